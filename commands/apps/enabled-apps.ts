import type { AppStore } from '../../ports/apps.ts'
import type { AppVersion } from '../../schema/apps.ts'

export interface EnabledApps {
  /** The project's enabled app versions in run order; read from the store at most every `maxAgeMs`. */
  forTeam(teamId: number): Promise<AppVersion[]>
  /** The project's apps changed (through this process's API, or ingest disabled one): read them again. */
  forget(teamId: number): void
}

/**
 * Ingest asks for a project's apps once per batch: kept for `maxAgeMs`, a project without apps costs
 * a lookup, not a query. A change through another process's API is seen within that time; whichever
 * versions ran are recorded with the batch (apps-step.ts), so a replay never depends on it. A store
 * that is away throws its DependencyUnavailableError: the batch waits rather than run without apps.
 */
export function createEnabledApps(
  store: AppStore,
  options: { maxAgeMs?: number; now?: () => number } = {},
): EnabledApps {
  const maxAgeMs = options.maxAgeMs ?? 2_000
  const now = options.now ?? (() => performance.now())
  const entries = new Map<number, { versions: Promise<AppVersion[]>; readAt: number }>()
  return {
    forTeam(teamId) {
      const entry = entries.get(teamId)
      if (entry && now() - entry.readAt < maxAgeMs) return entry.versions
      const versions = store.enabledVersions(teamId)
      const read = { versions, readAt: now() }
      entries.set(teamId, read)
      // a failed read is not kept: the next batch asks the store again
      versions.catch(() => {
        if (entries.get(teamId) === read) entries.delete(teamId)
      })
      return versions
    },
    forget(teamId) {
      entries.delete(teamId)
    },
  }
}
