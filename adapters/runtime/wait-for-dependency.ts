import { setTimeout as sleep } from 'node:timers/promises'
import { type Dependency, isDependencyUnavailable } from '../../ports/failures.ts'
import type { Logger } from '../../ports/logger.ts'
import { reasonOf } from './failure-reason.ts'

/** A server that stayed away for as long as sluice was told to wait for it (`--wait`). */
export class GaveUpWaitingError extends Error {
  override readonly name = 'GaveUpWaitingError'
  constructor(
    readonly dependency: Dependency,
    /** "Kafka at 127.0.0.1:19092" */
    readonly what: string,
    readonly waitedSeconds: number,
    readonly reason: string,
    options: { cause: unknown },
  ) {
    super(
      waitedSeconds === 0
        ? `cannot reach ${what} (${reason})`
        : `${what} was still away after ${waitedSeconds} s (${reason})`,
      options,
    )
  }
}

/** Ctrl-C while sluice waited for a server or opened its backends. */
export class InterruptedError extends Error {
  override readonly name = 'InterruptedError'
}

export interface WaitOptions {
  dependency: Dependency
  /** Named in every line: "Kafka at 127.0.0.1:19092". */
  what: string
  /** One try; a DependencyUnavailableError means "away, try again", anything else fails at once. */
  attempt: () => Promise<void>
  /** How long after the first try to give up: no try starts later. */
  waitSeconds: number
  logger: Logger
  signal?: AbortSignal
  /** The clock and the pause between tries; a test passes a virtual clock that `pause` moves on. */
  now?: () => number
  pause?: (ms: number, signal?: AbortSignal) => Promise<void>
}

const firstPauseMs = 1000
const longestPauseMs = 15_000

/**
 * Tries until the server answers or the deadline passes, pausing 1, 2, 4 … 15 s between tries, with
 * one line per pause — "waiting for Kafka at 127.0.0.1:19092 (connection refused; 3rd try, next in
 * 4 s)…" — rather than whatever the driver would print on each of its own retries.
 */
export async function waitForDependency(options: WaitOptions): Promise<void> {
  const now = options.now ?? Date.now
  const started = now()
  const deadline = started + options.waitSeconds * 1000
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) throw new InterruptedError(`interrupted while waiting for ${options.what}`)
    try {
      await options.attempt()
      return
    } catch (error) {
      if (!isDependencyUnavailable(error)) throw error
      const reason = reasonOf(error)
      const pause = Math.min(firstPauseMs * 2 ** (attempt - 1), longestPauseMs, deadline - now())
      if (pause <= 0) {
        const waited = Math.round((now() - started) / 1000)
        throw new GaveUpWaitingError(options.dependency, options.what, waited, reason, { cause: error })
      }
      const seconds = Math.ceil(pause / 1000)
      options.logger.warn(
        { service: options.what, reason, attempt },
        `waiting for ${options.what} (${reason}; ${ordinal(attempt)} try, next in ${seconds} s)…`,
      )
      try {
        await (options.pause ?? ((ms, signal) => sleep(ms, undefined, { signal })))(pause, options.signal)
      } catch {
        throw new InterruptedError(`interrupted while waiting for ${options.what}`)
      }
    }
  }
}

export function ordinal(n: number): string {
  const tens = n % 100
  const suffix =
    tens >= 11 && tens <= 13 ? 'th' : n % 10 === 1 ? 'st' : n % 10 === 2 ? 'nd' : n % 10 === 3 ? 'rd' : 'th'
  return `${n}${suffix}`
}
