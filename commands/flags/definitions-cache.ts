import { type PreparedFlag, prepareFlag } from '../../domain/flags/prepare-flag.ts'
import type { FlagEvaluationStore, FlagStore } from '../../ports/flags.ts'
import { FlagDefinitionsUnavailableError } from './errors.ts'

/** A project's flags as evaluation needs them, read and prepared once for many requests. */
export interface ProjectFlags {
  /** Active, not deleted flags, oldest first. */
  flags: PreparedFlag[]
  /** Group type names by index. */
  groupTypes: ReadonlyMap<number, string>
  /** Keys of the active flags that keep experience continuity. */
  continuityFlagKeys: string[]
}

export interface FlagDefinitionsCache {
  /** Throws FlagDefinitionsUnavailableError when the store is unreachable and nothing was read before. */
  forProject(teamId: number): Promise<ProjectFlags>
  /** Called after this process changed a project's flags: the next request reads them again. */
  forget(teamId: number): void
}

/**
 * Every /flags request needs its project's definitions; reading them is one query, preparing them
 * compiles patterns. Kept for `maxAgeMs`, so a change made through another process's API (or a new
 * group type ingest created) is seen within that time; this process's own changes at once. When
 * the store is unreachable the last definitions read keep being served.
 */
export function createFlagDefinitionsCache(
  stores: { flags: Pick<FlagStore, 'list'>; evaluation: Pick<FlagEvaluationStore, 'groupTypes'> },
  options: { maxAgeMs?: number; now?: () => number } = {},
): FlagDefinitionsCache {
  const maxAgeMs = options.maxAgeMs ?? 5_000
  const now = options.now ?? Date.now
  const entries = new Map<number, { value: ProjectFlags; readAt: number }>()
  const inFlight = new Map<number, Promise<ProjectFlags>>()
  // A read that started before a change must not be kept, nor handed to requests after it.
  const generations = new Map<number, number>()

  const read = async (teamId: number): Promise<ProjectFlags> => {
    const [stored, groupTypes] = await Promise.all([
      stores.flags.list(teamId),
      stores.evaluation.groupTypes(teamId),
    ])
    const active = stored.filter((flag) => flag.active)
    return {
      flags: active.map(prepareFlag),
      groupTypes,
      continuityFlagKeys: active.filter((flag) => flag.ensureExperienceContinuity).map((flag) => flag.key),
    }
  }

  return {
    async forProject(teamId) {
      const entry = entries.get(teamId)
      if (entry && now() - entry.readAt < maxAgeMs) return entry.value
      const pending = inFlight.get(teamId)
      if (pending) return pending
      const generation = generations.get(teamId) ?? 0
      const current = () => (generations.get(teamId) ?? 0) === generation
      const lookup = read(teamId)
        .then((value) => {
          if (current()) entries.set(teamId, { value, readAt: now() })
          return value
        })
        .catch((error: unknown) => {
          if (entry) return entry.value
          throw new FlagDefinitionsUnavailableError(teamId, error)
        })
        .finally(() => {
          if (current()) inFlight.delete(teamId)
        })
      inFlight.set(teamId, lookup)
      return lookup
    },
    forget(teamId) {
      generations.set(teamId, (generations.get(teamId) ?? 0) + 1)
      entries.delete(teamId)
      inFlight.delete(teamId)
    },
  }
}
