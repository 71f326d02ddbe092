import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const processEnd = new URL('./process-end.ts', import.meta.url).href
const dataDirLock = new URL('./data-dir-lock.ts', import.meta.url).href

/** Runs `body` in a Node process of its own with process-end.ts and a data dir lock at hand. */
async function run(body: string, dataDir: string, closeOutput = false) {
  const script = `
const { endBySignal, endOnUncaughtErrors, outliveLostOutput } = await import(${JSON.stringify(processEnd)})
const { lockDataDir } = await import(${JSON.stringify(dataDirLock)})
lockDataDir(${JSON.stringify(dataDir)}, 'test')
${body}`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  if (closeOutput) {
    child.stdout.destroy()
    child.stderr.destroy()
  }
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
  )
  return { code, signal, stderr, locked: existsSync(join(dataDir, 'sluice.lock')) }
}

describe('how a process ends', () => {
  it('ends by the signal it is given, its data dir lock released first', async () => {
    const ended = await run(`endBySignal('SIGINT')`, mkdtempSync(join(tmpdir(), 'sluice-end-')))
    expect(ended).toMatchObject({ code: null, signal: 'SIGINT', locked: false })
  })

  it('says an error nothing caught and ends, never hanging', async () => {
    const ended = await run(
      `endOnUncaughtErrors(); setTimeout(() => { throw new Error('a defect') }, 10)`,
      mkdtempSync(join(tmpdir(), 'sluice-end-')),
    )
    expect(ended).toMatchObject({ code: null, signal: 'SIGKILL', locked: false })
    expect(ended.stderr).toMatch(/^sluice: an error nothing caught ends the process:\nError: a defect\n/)
  })

  it('goes on writing to output that lost its reader', async () => {
    // without outliveLostOutput the first write to the closed stdout ends the process (EPIPE)
    const ended = await run(
      `outliveLostOutput()
setTimeout(() => {
  for (let i = 0; i < 100; i++) console.log('to nobody', i)
  setTimeout(() => process.exit(7), 100)
}, 200)`,
      mkdtempSync(join(tmpdir(), 'sluice-end-')),
      true,
    )
    expect(ended).toMatchObject({ code: 7, signal: null, locked: false })
  })
})
