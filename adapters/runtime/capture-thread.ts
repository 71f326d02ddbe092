import { execFileSync } from 'node:child_process'
import { availableParallelism, getPriority, setPriority } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { FlagEvaluationStore, FlagStore } from '../../ports/flags.ts'
import type { Log, LogRecord } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'
import type { Project, ProjectStore } from '../../ports/projects.ts'
import type { HashKeyOverride } from '../../schema/flags.ts'
import { Topics } from '../../schema/topics.ts'
import { isEmbeddedLog } from '../log/embedded/embedded-log.ts'
import type { createMetrics } from '../metrics/metrics.ts'
import { loopSaturation, saturationWindowMs } from './capture-saturation.ts'
import type { MainThreadPriority, SluiceConfig } from './config.ts'
import { threadRpc } from './thread-rpc.ts'

/** What the capture thread starts from. */
export interface CaptureWorkerData {
  config: SluiceConfig
  /** Also answer /flags and /decide (the api role runs in the process too). */
  flags: boolean
}

/** The first message to the thread, once the process's backends are open: the thread may begin. */
export interface CaptureWorkerBegin {
  /** The main thread's own server, on a loopback port: where everything the thread does not answer goes. */
  forwardTo: string
}

/**
 * What the main thread answers the capture thread: the project of a token, and what flag
 * evaluation reads from Postgres (the thread keeps the definitions for a few seconds, as another
 * process would).
 */
export type MainThreadCalls = {
  findByToken(token: string): Promise<Project | undefined>
  appended(topic: string, partition: number): void
  listening(port: number): void
  flagList: FlagStore['list']
} & Pick<FlagEvaluationStore, keyof FlagEvaluationStore>

/** What the capture thread answers the main thread. */
export type CaptureThreadCalls = {
  append(topic: string, records: LogRecord[]): Promise<void>
  flagsChanged(projectId: number): void
  projectChanged(token: string): void
  metrics(): ReturnType<ReturnType<typeof createMetrics>['registry']['getMetricsAsJSON']>
  stop(): Promise<void>
}

export interface CaptureThread {
  url: string
  /** A log for this thread whose appends to `capture_requests` go through the capture thread, their one writer. */
  log: Log
  metrics(): ReturnType<CaptureThreadCalls['metrics']>
  /** A project's flags changed here: the thread reads them again at its next request, not seconds later. */
  flagsChanged(projectId: number): void
  /** A project's settings changed here (`anonymize_ips`): the thread looks the token up again. */
  projectChanged(token: string): void
  /** Whether the thread runs (it is started again if it ends on its own). */
  running(): boolean
  /** Whether the thread has all it can take now (capture-saturation.ts): the consumers may give way. */
  saturated(): boolean
  stop(): Promise<void>
}

// A worker starts from JavaScript: it registers the TypeScript loader the CLI runs under, then
// loads the capture thread's module. Both by absolute URL: evaluated code resolves packages from
// the working directory, which is the user's, not sluice's.
const bootstrap = `
const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
register()
await import(${JSON.stringify(new URL('./capture-worker.ts', import.meta.url).href)})
`

/** A capture thread loading its modules, before it is told to begin. */
export interface SpawnedCaptureWorker {
  worker: Worker
  /** Its port once it listens; rejected if it ends before. */
  listening: Promise<number>
  listened(port: number): void
}

/**
 * Starts the thread loading its modules (near two seconds of a start), so that it can do so while
 * the backends open; it waits for `CaptureWorkerBegin` to open the log and listen.
 */
export function spawnCaptureWorker(config: SluiceConfig, flags: boolean): SpawnedCaptureWorker {
  const worker = new Worker(bootstrap, {
    eval: true,
    workerData: { config, flags } satisfies CaptureWorkerData,
  })
  let listened: (port: number) => void = () => {}
  const listening = new Promise<number>((resolve, reject) => {
    listened = resolve
    worker.once('error', reject)
    worker.once('exit', (code) =>
      reject(new Error(`the capture thread ended (exit code ${code}) before it listened`)),
    )
  })
  listening.catch(() => {}) // awaited once the backends are open; a failure before must not count as unhandled
  giveWayToCapture(config.mainThreadPriority)
  return { worker, listening, listened }
}

/** How far the main thread lowers its priority below capture's where it cannot idle (nice steps). */
const backgroundNiceness = 10

/**
 * The calling thread — the main one, where ingest, the projector and the API run — steps back for
 * capture, started just before: when the cores are short, a client waiting for capture's 200 goes
 * first, and the consumers, whose lag is theirs to make up, take what is left. PGlite runs on it,
 * and threads it starts from now on (chDB's) inherit it; libuv's pool, where LMDB commits every
 * topic, capture's appends among them, started while the modules loaded and keeps the normal one.
 *
 * Linux only (elsewhere a thread has no priority of its own: this would lower capture with it).
 * With more than one core the thread takes SCHED_IDLE (`chrt` of util-linux; any thread may
 * choose it for itself): it then runs only on a core capture leaves free, and a capture request
 * takes the core at once. A nice value alone does not do that — the kernel (EEVDF) lets the running
 * thread finish its slice whatever its weight, and capture measured no faster at nice 19 than at
 * 10 — but on one core SCHED_IDLE would starve the consumers and the API under a steady load, so
 * there, or without `chrt`, the thread takes nice 10. SCHED_IDLE yields to every other process
 * too: on a machine busy with other work, `SLUICE_MAIN_THREAD_PRIORITY=nice` keeps the consumers a
 * share. A capture thread started again after its thread ended inherits what the main thread took:
 * from then on the two share one priority.
 */
function giveWayToCapture(priority: MainThreadPriority): void {
  if (process.platform !== 'linux') return
  // V8's platform workers collect and compile for the main thread's heap, which the backlog fills;
  // at normal priority they were among the threads capture waited behind for a core, 17–32 % of
  // the time (docs/benchmarks.md).
  // Capture's own collections go on without them: a thread does its own heap's work when no
  // helper runs.
  if (priority === 'idle' && availableParallelism() > 1 && idleSchedulingTaken(process.pid)) {
    for (const thread of startupThreads()) idleSchedulingTaken(thread)
    return
  }
  for (const thread of [process.pid, ...startupThreads()]) {
    try {
      setPriority(thread, Math.min(19, getPriority(thread) + backgroundNiceness))
    } catch {
      // a sandbox that forbids it leaves every thread at one priority, as on other systems
    }
  }
}

/** Puts a thread (the main one's id is the process id) under SCHED_IDLE; false where it cannot. */
function idleSchedulingTaken(thread: number): boolean {
  try {
    execFileSync('chrt', ['--idle', '--pid', '0', String(thread)], { stdio: 'ignore', timeout: 5000 })
    return true
  } catch {
    return false
  }
}

/** The threads bin/sluice.cjs found before any JavaScript ran (none when started otherwise, as in tests). */
function startupThreads(): number[] {
  const noted: unknown = (globalThis as Record<symbol, unknown>)[Symbol.for('sluice.startup-threads')]
  return Array.isArray(noted) ? noted.filter((thread): thread is number => typeof thread === 'number') : []
}

/**
 * Capture on a thread of its own, so ingest, the projector and the API — which share the main
 * thread — never hold up its event loop. It listens on the public port, answers capture's routes
 * there, appends the requests it accepts to `capture_requests` itself (the embedded log's one writer
 * of that topic: offsets are assigned in memory) and forwards everything else to the main thread's
 * server on `forwardTo`.
 * Token lookups come to the main thread, which holds Postgres; appends are announced to the main
 * thread's log, so ingest sees them at once. `spawned` is the thread spawned ahead
 * (spawnCaptureWorker); one that ends on its own is started again from scratch.
 */
export async function startCaptureThread(options: {
  config: SluiceConfig
  spawned: SpawnedCaptureWorker
  forwardTo: string
  log: Log
  projects: Pick<ProjectStore, 'findByToken'>
  /** Given when the thread also answers /flags and /decide. */
  flags: { store: FlagStore; evaluation: FlagEvaluationStore } | null
  logger: Logger
}): Promise<CaptureThread> {
  const { config, log, logger } = options
  let stopping = false
  let current = await launch(options.spawned)
  const saturation = loopSaturation(() => current.worker.performance.eventLoopUtilization())
  const sampling = setInterval(saturation.sample, saturationWindowMs).unref()

  async function launch(spawned: SpawnedCaptureWorker) {
    const { worker } = spawned
    const flags = options.flags
    const rpc = threadRpc<CaptureThreadCalls>(worker, {
      findByToken: (token: string) => options.projects.findByToken(token),
      ...(flags === null ? {} : flagCalls(flags.store, flags.evaluation)),
      appended: (topic: string, partition: number) => {
        if (isEmbeddedLog(log)) log.noticeAppend(topic, partition)
      },
      listening: (port: number) => spawned.listened(port),
    })
    worker.postMessage({ forwardTo: options.forwardTo } satisfies CaptureWorkerBegin)
    const port = await spawned.listening
    const launched = { worker, rpc, port, running: true }
    worker.on('exit', (code) => {
      launched.running = false
      rpc.close(new Error('the capture thread ended'))
      if (stopping) return
      logger.error({ code }, 'the capture thread ended; starting it again')
      setTimeout(() => {
        launch(spawnCaptureWorker(config, flags !== null)).then(
          (next) => {
            current = next
          },
          (error: unknown) => logger.error({ err: error }, 'the capture thread could not be started again'),
        )
      }, 1000).unref()
    })
    return launched
  }

  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  return {
    url: `http://${host}:${current.port}`,
    log: {
      ...log,
      append: (topic, records) =>
        topic === Topics.captureRequests
          ? current.rpc.call('append', topic, records)
          : log.append(topic, records),
    },
    metrics: () => current.rpc.call('metrics'),
    flagsChanged: (projectId) => current.rpc.notice('flagsChanged', projectId),
    projectChanged: (token) => current.rpc.notice('projectChanged', token),
    running: () => current.running,
    saturated: () => current.running && saturation.saturated(),
    async stop() {
      stopping = true
      clearInterval(sampling)
      if (!current.running) return
      const ended = new Promise((resolve) => current.worker.once('exit', resolve))
      await current.rpc.call('stop').catch(() => {})
      await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 10_000))])
      await current.worker.terminate()
    },
  }
}

/** The main thread's side of the flag reads the capture thread asks for. */
function flagCalls(store: FlagStore, evaluation: FlagEvaluationStore) {
  return {
    flagList: (teamId: number, options?: { includeDeleted?: boolean }) => store.list(teamId, options),
    groupTypes: (teamId: number) => evaluation.groupTypes(teamId),
    personProperties: (teamId: number, distinctId: string) => evaluation.personProperties(teamId, distinctId),
    groupProperties: (teamId: number, groups: { groupTypeIndex: number; groupKey: string }[]) =>
      evaluation.groupProperties(teamId, groups),
    personDistinctIds: (teamId: number, distinctIds: string[]) =>
      evaluation.personDistinctIds(teamId, distinctIds),
    hashKeyOverrides: (teamId: number, distinctIds: string[]) =>
      evaluation.hashKeyOverrides(teamId, distinctIds),
    addHashKeyOverrides: (teamId: number, overrides: HashKeyOverride[]) =>
      evaluation.addHashKeyOverrides(teamId, overrides),
  }
}
