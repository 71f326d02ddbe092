import type { Project, ProjectStore } from '../../ports/projects.ts'

export interface TokenCache {
  /** The project a token belongs to, `null` when no project has it; throws when the store is unreachable. */
  resolve(token: string): Promise<Project | null>
  /** What the cache last knew, even if stale — capture uses it when Postgres is down. */
  cached(token: string): Project | null | undefined
  forget(token: string): void
}

/**
 * Token → project lookups are on the hot path of capture and ingest; settings such as
 * `anonymize_ips` take effect within `ttlMs`. Unknown tokens are remembered for a shorter time so a
 * project created a moment ago is found quickly.
 */
export function createTokenCache(
  store: Pick<ProjectStore, 'findByToken'>,
  options: { ttlMs?: number; unknownTtlMs?: number; now?: () => number } = {},
): TokenCache {
  const ttlMs = options.ttlMs ?? 30_000
  const unknownTtlMs = options.unknownTtlMs ?? 2_000
  const now = options.now ?? Date.now
  const entries = new Map<string, { project: Project | null; expiresAt: number }>()
  const inFlight = new Map<string, Promise<Project | null>>()
  return {
    async resolve(token) {
      const entry = entries.get(token)
      if (entry && entry.expiresAt > now()) return entry.project
      const pending = inFlight.get(token)
      if (pending) return pending
      const lookup = store
        .findByToken(token)
        .then((found) => {
          const project = found ?? null
          entries.set(token, { project, expiresAt: now() + (project ? ttlMs : unknownTtlMs) })
          return project
        })
        .finally(() => inFlight.delete(token))
      inFlight.set(token, lookup)
      return lookup
    },
    cached: (token) => entries.get(token)?.project,
    forget: (token) => void entries.delete(token),
  }
}
