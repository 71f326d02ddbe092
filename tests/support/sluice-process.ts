import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const bin = new URL('../../bin/sluice.js', import.meta.url).pathname
const run = promisify(execFile)

export interface Credentials {
  project_id: number
  project_token: string
  personal_api_key: string
}

export interface SluiceProcess {
  url: string
  dataDir: string
  credentials: Credentials
  child: ChildProcess
  output(): string
  /** GET/POST against the API with the personal API key. */
  api<T>(path: string, init?: RequestInit): Promise<{ status: number; body: T }>
  stop(): Promise<void>
}

/** `npx sluice …` as a user runs it, in a child process. */
export async function sluiceCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, timeout: 120_000 })
}

/** Starts `sluice start` on a free port and a fresh data dir (unless given), waits until it serves. */
export async function startSluiceProcess(
  options: { dataDir?: string; args?: string[]; env?: NodeJS.ProcessEnv; credentials?: Credentials } = {},
): Promise<SluiceProcess> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'sluice-e2e-')))
  const ownsDataDir = options.dataDir === undefined
  const credentials = options.credentials ?? (await initialise(dataDir, options.args ?? [], options.env))
  const child = spawn(
    process.execPath,
    [bin, 'start', '--data-dir', dataDir, '--port', '0', ...(options.args ?? [])],
    {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`sluice did not start within 120 s:\n${output}`)),
      120_000,
    )
    child.stdout.on('data', () => {
      const match = /sluice is running at (\S+)[\s\S]*Press Ctrl\+C/.exec(output)
      if (match?.[1]) {
        clearTimeout(timer)
        resolve(match[1])
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`sluice exited with ${code} before serving:\n${output}`))
    })
  })
  return {
    url,
    dataDir,
    credentials,
    child,
    output: () => output,
    async api<T>(path: string, init: RequestInit = {}) {
      const response = await fetch(`${url}${path}`, {
        ...init,
        headers: {
          authorization: `Bearer ${credentials.personal_api_key}`,
          'content-type': 'application/json',
          ...init.headers,
        },
      })
      return { status: response.status, body: (await response.json()) as T }
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))])
        if (child.exitCode === null) child.kill('SIGKILL')
      }
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true })
    },
  }
}

/**
 * `sluice init --json`; on a data dir initialised before, init cannot show the key again (only its
 * digest is kept), so a new one is made with `sluice keys create`, as a user would.
 */
async function initialise(dataDir: string, args: string[], env?: NodeJS.ProcessEnv): Promise<Credentials> {
  const cli = async (command: string[]) => {
    const { stdout } = await sluiceCli([...command, '--json', '--data-dir', dataDir, ...args], env)
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Partial<Credentials>
  }
  const { project_id, project_token, personal_api_key } = await cli(['init'])
  const key = personal_api_key ?? (await cli(['keys', 'create'])).personal_api_key
  if (project_id === undefined || project_token === undefined || key === undefined)
    throw new Error(`sluice init and keys create did not print credentials for ${dataDir}`)
  return { project_id, project_token, personal_api_key: key }
}

/** Polls until `probe` returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  what = 'condition',
  /** What to show when it times out, e.g. the processes' output. */
  explain: () => string = () => '',
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}\n${explain()}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
