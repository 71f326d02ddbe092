import { type ChildProcess, spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname

export interface ChildServer {
  url: string
  output: string
  /** CPU seconds the server process has used so far (all its threads), or null where /proc is absent. */
  cpuSeconds(): number | null
  /** The process's id, which is also its main thread's. */
  pid: number | undefined
  /** Each thread's CPU and time waiting for a core so far, in seconds, by thread id (empty where /proc is absent). */
  threadTimes(): Map<number, ThreadTimes>
  stop(): Promise<void>
}

/** Runs a server in its own process (so the load generator does not share its core) and waits for its URL. */
export async function startChild(
  args: string[],
  urlPattern: RegExp,
  cleanup?: () => Promise<void>,
  env: NodeJS.ProcessEnv = {},
): Promise<ChildServer> {
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  })
  // A benchmark that ends abruptly (an exception, its output closed) must not leave a server running:
  // one still draining its backlog takes CPU from every run after it.
  const stopWithUs = () => child.kill('SIGTERM')
  process.once('exit', stopWithUs)
  child.once('exit', () => process.off('exit', stopWithUs))
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 120_000)
    child.stdout?.on('data', () => {
      const match = urlPattern.exec(output)
      if (match?.[1]) {
        clearTimeout(timer)
        resolve(match[1])
      }
    })
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)))
  })
  return {
    url,
    get output() {
      return output
    },
    pid: child.pid,
    cpuSeconds: () => processCpuSeconds(child.pid),
    threadTimes: () => processThreadTimes(child.pid),
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))])
      if (child.exitCode === null) child.kill('SIGKILL')
      await cleanup?.()
    },
  }
}

/**
 * Node's arguments for `sluice start` on a data dir and any free port, as `npm start` runs it; with
 * `BENCH_PROFILE_DIR` set, every thread of the process writes a CPU profile there when it stops.
 */
export function sluiceStartArgs(dataDir: string, extraArgs: string[] = []): string[] {
  const profile = process.env.BENCH_PROFILE_DIR
  return [
    ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []),
    '--max-semi-space-size=64',
    'bin/sluice.cjs',
    'start',
    '--data-dir',
    dataDir,
    '--port',
    '0',
    ...extraArgs,
  ]
}

/** What `sluice start` prints once it serves: its URL is the first group. */
export const sluiceRunning = /running at (\S+)[\s\S]*Press Ctrl\+C/

/** `sluice start` on a fresh data dir; returns the server and the default project's credentials. */
export async function startSluiceChild(extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-bench-'))
  const server = await startChild(
    sluiceStartArgs(dataDir, extraArgs),
    sluiceRunning,
    () => rm(dataDir, { recursive: true, force: true }),
    env,
  )
  const token = /project token:\s+(\S+)/.exec(server.output)?.[1]
  const key = /personal API key:\s+(\S+)/.exec(server.output)?.[1]
  if (!token || !key) throw new Error(`no credentials in:\n${server.output}`)
  return { server, token, key, dataDir }
}

/** utime + stime from /proc/<pid>/stat, in clock ticks of 1/100 s (Linux's USER_HZ). */
function processCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the parenthesised command name, which may itself hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return null
  }
}

export interface ThreadTimes {
  cpu: number
  waited: number
}

/** /proc/<pid>/task/<tid>/schedstat: nanoseconds on a core, then nanoseconds runnable but waiting for one. */
function processThreadTimes(pid: number | undefined): Map<number, ThreadTimes> {
  const times = new Map<number, ThreadTimes>()
  if (pid === undefined) return times
  let threads: string[]
  try {
    threads = readdirSync(`/proc/${pid}/task`)
  } catch {
    return times
  }
  for (const thread of threads) {
    try {
      const [cpu, waited] = readFileSync(`/proc/${pid}/task/${thread}/schedstat`, 'utf8').split(' ')
      times.set(Number(thread), { cpu: Number(cpu) / 1e9, waited: Number(waited) / 1e9 })
    } catch {
      // the thread ended while listed
    }
  }
  return times
}
