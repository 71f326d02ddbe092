import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { build } from 'esbuild'

/** The console's sources, beside the package's other folders: they ship inside it. */
export const consoleFolder = new URL('../../console/', import.meta.url)

export interface ConsoleAsset {
  body: Buffer
  contentType: string
  etag: string
}

/**
 * The console's script: its TypeScript and Preact bundled into one file by esbuild (already what runs
 * sluice's own TypeScript, through tsx), the first time it is asked for — no build step, nothing
 * downloaded, and a process that never serves the console never bundles it.
 */
export async function bundleConsoleScript(): Promise<ConsoleAsset> {
  const result = await build({
    entryPoints: [new URL('main.tsx', consoleFolder).pathname],
    bundle: true,
    write: false,
    format: 'esm',
    target: 'es2020',
    minify: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'eof',
    logLevel: 'silent',
  })
  const [output] = result.outputFiles
  if (output === undefined) throw new Error('esbuild wrote no console script')
  return asset(Buffer.from(output.contents), 'text/javascript; charset=utf-8')
}

/** A file of the console folder as it is. */
export async function consoleFile(name: string, contentType: string): Promise<ConsoleAsset> {
  return asset(await readFile(new URL(name, consoleFolder)), contentType)
}

function asset(body: Buffer, contentType: string): ConsoleAsset {
  return {
    body,
    contentType,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
  }
}
