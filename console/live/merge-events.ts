/** What the live list needs of an event. */
export interface Listed {
  id: string
  timestamp: string
}

export interface LiveList<T extends Listed> {
  events: T[]
  /** Ids that came with the last poll and were not listed before: shown as new. */
  fresh: ReadonlySet<string>
}

/**
 * Adds a poll's newest events to what is listed: each event once (by uuid), newest first as the
 * events API orders them (timestamp, then uuid), at most `keep` of them. On the first poll nothing
 * counts as new.
 */
export function mergeNewest<T extends Listed>(
  listed: LiveList<T> | undefined,
  polled: readonly T[],
  keep: number,
): LiveList<T> {
  const byId = new Map<string, T>()
  for (const event of listed?.events ?? []) byId.set(event.id, event)
  const fresh = new Set<string>()
  for (const event of polled) {
    if (listed !== undefined && !byId.has(event.id)) fresh.add(event.id)
    byId.set(event.id, event)
  }
  const events = [...byId.values()].sort(newestFirst).slice(0, keep)
  return { events, fresh }
}

function newestFirst(a: Listed, b: Listed): number {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? 1 : -1
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0
}
