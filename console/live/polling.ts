/**
 * How often the live view asks for the newest events. One poll is one events query, a few
 * milliseconds on an idle embedded sluice, and an event is queryable well under a second after
 * capture answered, so a new event shows within about a second and a half (`npm run bench --
 * console` measures both; docs/benchmarks.md has the figures).
 */
export const livePollMs = 1000

/**
 * After the first load, each poll asks only for events of the last minutes before the newest one
 * listed: ClickHouse then reads the properties of those alone instead of every event of the project
 * (a poll of a project holding 100 000 events costs a tenth as much; docs/benchmarks.md). An event
 * whose own time is older than that when it arrives (an SDK that was offline) is not added live; a
 * reload lists it in its place.
 */
export const liveWindowMs = 5 * 60_000

/**
 * The `after=` of the next poll: the window before the newest listed event (or before now, when that
 * one's time is ahead of this machine's clock); nothing before the first load, so it lists the newest
 * whatever their time.
 */
export function pollAfter(
  newestListed: string | undefined,
  firstLoadDone: boolean,
  now: number,
): string | undefined {
  if (!firstLoadDone) return undefined
  const newest = newestListed === undefined ? now : Math.min(Date.parse(newestListed), now)
  return new Date(newest - liveWindowMs).toISOString()
}
