import { type AppInput, type AppRunOutcome, type AppSandbox, AppSourceError } from '../../ports/apps.ts'
import type { AppVersion } from '../../schema/apps.ts'

/** An app version ready to run events. */
export interface RunnableApp {
  run(input: AppInput): Promise<AppRunOutcome>
}

export interface CompiledApps {
  /** The app version compiled (once, then shared); hold it until `release`. Never throws. */
  acquire(version: AppVersion): Promise<RunnableApp>
  release(version: AppVersion): void
  /** Frees every compiled app; none may be in use. */
  disposeAll(): void
}

interface Compiled extends RunnableApp {
  dispose(): void
  /** The sandbox could not be built at all: compile it again next time rather than keep this. */
  transient: boolean
}

/**
 * App versions compiled once and kept for the batches that follow, `capacity` at most of those no
 * batch holds: the least recently used of them is freed first. A version that cannot be compiled
 * fails on every event it meets, with the reason — never the batch: a stored version that no longer
 * compiles (a later sluice may refuse what an earlier one took) for good, a sandbox that could not
 * be built until the next batch tries again.
 */
export function createCompiledApps(sandbox: AppSandbox, options: { capacity?: number } = {}): CompiledApps {
  const capacity = options.capacity ?? 100
  // Map order is use order: an acquired entry moves to the end
  const entries = new Map<string, { compiled: Promise<Compiled>; holders: number }>()
  const keyOf = (version: AppVersion) => `${version.appId}:${version.version}`

  const compile = async (version: AppVersion): Promise<Compiled> => {
    try {
      const app = await sandbox.compile({
        source: version.source,
        config: version.config,
        teamId: version.teamId,
      })
      return { run: (input) => app.run(input), dispose: () => app.dispose(), transient: false }
    } catch (error) {
      const reason =
        error instanceof AppSourceError
          ? error.message
          : `the sandbox cannot be built: ${error instanceof Error ? error.message : String(error)}`
      const outcome: AppRunOutcome = { kind: 'failed', failure: 'crashed', error: reason, logs: [] }
      return { run: async () => outcome, dispose() {}, transient: !(error instanceof AppSourceError) }
    }
  }
  // a sandbox that cannot free itself is dropped with its WebAssembly module all the same
  const free = (compiled: Promise<Compiled>) => void compiled.then((app) => app.dispose()).catch(() => {})

  return {
    async acquire(version) {
      const key = keyOf(version)
      const entry = entries.get(key) ?? { compiled: compile(version), holders: 0 }
      entries.delete(key)
      entries.set(key, entry)
      entry.holders++
      return entry.compiled
    },
    release(version) {
      const key = keyOf(version)
      const entry = entries.get(key)
      if (entry === undefined) return
      entry.holders--
      void entry.compiled.then((app) => {
        if (app.transient && entries.get(key) === entry && entry.holders === 0) entries.delete(key)
      })
      for (const [leastRecent, unused] of entries) {
        if (entries.size <= capacity) break
        if (unused.holders > 0) continue
        entries.delete(leastRecent)
        free(unused.compiled)
      }
    },
    disposeAll() {
      for (const entry of entries.values()) free(entry.compiled)
      entries.clear()
    },
  }
}
