import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { constants, tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const bin = new URL('../../bin/sluice.cjs', import.meta.url).pathname
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

/** What a run of `sluice …` left: its exit code and its two streams. */
export interface SluiceRun {
  code: number | null
  stdout: string
  stderr: string
}

/** `sluice …` run to its end, as a user runs it, whether it succeeds or not. */
export function runSluice(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number } = {},
): Promise<SluiceRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, ...options.env },
      cwd: options.cwd,
      uid: options.uid,
      gid: options.gid,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** A line of a JavaScript stack trace: what a person must never see unless they asked for it. */
export const stackTraceLine = /^\s+at .+:\d+/m

/** A long-running `sluice …` (start), its output as it comes, and a way to wait for a line of it. */
export interface SpawnedSluice {
  child: ChildProcess
  stdout(): string
  stderr(): string
  /** Resolves with the first match in stdout and stderr together; fails if the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>
  /** Its exit status as a shell reports it. */
  exited: Promise<number | null>
}

export function spawnSluice(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): SpawnedSluice {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  // as a shell reports it: a process ended by a signal exits 128 + its number (130 for SIGINT)
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal === null ? code : 128 + constants.signals[signal])),
  )
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitFor: (pattern, timeoutMs = 120_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(`${stdout}\n${stderr}`)
          if (match === null) return
          cleanup()
          resolve(match)
        }
        const onExit = () => {
          // the last chunks may still be in the pipes
          setTimeout(() => {
            check()
            cleanup()
            reject(
              new Error(
                `sluice exited (${child.exitCode}) before printing ${pattern}:\n${stdout}\n${stderr}`,
              ),
            )
          }, 200)
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${stdout}\n${stderr}`))
        }, timeoutMs)
        const cleanup = () => {
          clearTimeout(timer)
          child.stdout.off('data', check)
          child.stderr.off('data', check)
          child.off('exit', onExit)
        }
        child.stdout.on('data', check)
        child.stderr.on('data', check)
        child.once('exit', onExit)
        check()
        if (child.exitCode !== null || child.signalCode !== null) onExit()
      }),
  }
}

/** A port nothing listens on now (for a server that is away, or one sluice should take). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  if (typeof address !== 'object' || address === null) throw new Error('no port')
  return address.port
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
