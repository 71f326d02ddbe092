import { isDependencyUnavailable } from '../../ports/failures.ts'
import type { LogBatch } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'

export interface LastError {
  /** A stable code: `<dependency>_unavailable`, or the error's name. */
  code: string
  /** Only for a dependency that is away (it names the dependency, never an event's data). */
  message: string | null
  at: string
}

export interface PartitionHealth {
  group: string
  topic: string
  partition: number
  /** Failed batches since the process started. */
  failures: number
  /** Failed attempts since the last batch that succeeded; 0 when the partition moves. */
  consecutiveFailures: number
  failingSince: string | null
  lastError: LastError | null
}

export interface ConsumerHealth {
  /**
   * Wraps a subscription's batch handler: every failure is counted, logged at a bounded rate, and
   * shown (status, readiness, metrics) until a batch of that partition succeeds again.
   */
  watch(group: string, eachBatch: (batch: LogBatch) => Promise<void>): (batch: LogBatch) => Promise<void>
  partitions(): PartitionHealth[]
  /** Whether a partition of the group is failing now (its last attempt failed). */
  failing(group: string): boolean
}

export interface ConsumerHealthOptions {
  logger: Logger
  now: () => Date
  onFailure?: (group: string, topic: string, partition: number) => void
  /** While a partition keeps failing, at most one log line per this many ms. */
  logEveryMs?: number
}

export function errorCode(error: unknown): string {
  if (isDependencyUnavailable(error)) return `${error.dependency}_unavailable`
  return error instanceof Error ? error.name : 'error'
}

/**
 * The consumers' failures as an operator sees them. A consumer only fails a batch when something
 * is away (ingest sets aside what it cannot process), so the first failure of a streak is one error
 * line naming the dependency, repeated at most every `logEveryMs` while it lasts, and recovery is
 * one line too.
 */
export function createConsumerHealth(options: ConsumerHealthOptions): ConsumerHealth {
  const logEveryMs = options.logEveryMs ?? 30_000
  const states = new Map<string, PartitionHealth & { loggedAt: number }>()
  const stateOf = (group: string, topic: string, partition: number) => {
    const key = `${group}\u0000${topic}\u0000${partition}`
    let state = states.get(key)
    if (state === undefined) {
      state = {
        group,
        topic,
        partition,
        failures: 0,
        consecutiveFailures: 0,
        failingSince: null,
        lastError: null,
        loggedAt: 0,
      }
      states.set(key, state)
    }
    return state
  }

  return {
    watch(group, eachBatch) {
      return async (batch) => {
        const state = stateOf(group, batch.topic, batch.partition)
        try {
          await eachBatch(batch)
        } catch (error) {
          const now = options.now()
          state.failures++
          state.consecutiveFailures++
          state.failingSince ??= now.toISOString()
          const expected = isDependencyUnavailable(error)
          state.lastError = {
            code: errorCode(error),
            message: expected ? error.message : null,
            at: now.toISOString(),
          }
          options.onFailure?.(group, batch.topic, batch.partition)
          if (state.consecutiveFailures === 1 || now.getTime() - state.loggedAt >= logEveryMs) {
            state.loggedAt = now.getTime()
            const context = {
              group,
              topic: batch.topic,
              partition: batch.partition,
              offset: batch.messages[0]?.offset,
              attempts: state.consecutiveFailures,
              code: state.lastError.code,
              // a dependency that is away is expected: its message says it all, no stack trace
              ...(expected ? { error: error.message } : { err: error }),
            }
            options.logger.error(
              context,
              `${group} cannot go on with ${batch.topic}[${batch.partition}] and retries until it can` +
                (state.consecutiveFailures > 1 ? ` (failing since ${state.failingSince})` : ''),
            )
          }
          throw error
        }
        if (state.consecutiveFailures > 0) {
          options.logger.warn(
            { group, topic: batch.topic, partition: batch.partition, attempts: state.consecutiveFailures },
            `${group} goes on with ${batch.topic}[${batch.partition}] again`,
          )
          state.consecutiveFailures = 0
          state.failingSince = null
        }
      }
    },
    partitions: () =>
      [...states.values()].map(({ loggedAt: _loggedAt, ...health }) => ({
        ...health,
        lastError: health.lastError && { ...health.lastError },
      })),
    failing: (group) => [...states.values()].some((s) => s.group === group && s.consecutiveFailures > 0),
  }
}
