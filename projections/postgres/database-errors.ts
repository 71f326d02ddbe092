/**
 * What a failed statement means, decided from its SQLSTATE (or, for a connection that broke, the
 * driver's own error) — the one place sluice tells a lock race from data the database refuses from
 * a database that is away:
 * - `conflict`: another writer got there first (deadlock, serialization failure, a row created
 *   under us, a lock not granted); the same work on fresh state succeeds.
 * - `refused`: the data itself is refused (data exceptions, program limits, integrity violations);
 *   trying again fails the same way.
 * - `unavailable`: the database cannot be reached or cannot work right now (connection lost,
 *   shutting down, disk full, out of memory, too many connections, I/O error).
 * - `other`: anything else — a bug of ours, or input the database fails on in an unforeseen way.
 */
export type DatabaseFailure = 'conflict' | 'refused' | 'unavailable' | 'other'

const conflictStates = new Set(['40P01', '40001', '23505', '55P03'])
// Integrity violations other than a duplicate key only come from the rows we wrote.
const refusedStates = new Set(['23000', '23001', '23502', '23503', '23514', '23P01'])
const unavailableStates = new Set(['57P01', '57P02', '57P03', '57P05'])

// Errors of the socket or of pg's connection handling, before or without any SQLSTATE.
const unavailableErrnos = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOSPC',
])
const unavailableMessages = [
  /^Connection terminated/,
  /timeout exceeded when trying to connect/,
  /Client has encountered a connection error and is not queryable/,
  /Connection closed/i,
  /PGlite is closed/,
]

export function classifyDatabaseError(error: unknown): DatabaseFailure {
  for (const e of causes(error)) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && unavailableErrnos.has(code)) return 'unavailable'
    if (e instanceof Error && unavailableMessages.some((pattern) => pattern.test(e.message)))
      return 'unavailable'
  }
  const state = sqlStateOf(error)
  if (state === undefined) return 'other'
  if (conflictStates.has(state)) return 'conflict'
  if (refusedStates.has(state) || state.startsWith('22') || state.startsWith('54')) return 'refused'
  if (unavailableStates.has(state) || /^(08|53|58)/.test(state)) return 'unavailable'
  return 'other'
}

/** The SQLSTATE of a driver error, looking through wrapping errors' causes. */
export function sqlStateOf(error: unknown): string | undefined {
  for (const e of causes(error)) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && isSqlState(code)) return code
  }
  return undefined
}

function* causes(error: unknown): Generator<object> {
  for (let e: unknown = error, depth = 0; typeof e === 'object' && e !== null && depth < 10; depth++) {
    yield e
    e = (e as { cause?: unknown }).cause
  }
}

// Five digits or capitals; no class begins with E, so errno names such as EPIPE are not taken for one.
const isSqlState = (code: string) => /^[0-9A-DF-Z][0-9A-Z]{4}$/.test(code)
