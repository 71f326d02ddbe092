import { isDependencyUnavailable, logFieldsOf } from '../../ports/failures.ts'
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

/** A consumer group that cannot read at all (the log away, or where to start unknown). */
export interface GroupProblem {
  group: string
  since: string
  lastError: LastError
}

export interface ConsumerHealth {
  /**
   * Wraps a subscription's batch handler: every failure is counted, logged at a bounded rate, and
   * shown (status, readiness, metrics) until a batch of that partition succeeds again.
   */
  watch(group: string, eachBatch: (batch: LogBatch) => Promise<void>): (batch: LogBatch) => Promise<void>
  /** The subscription's `onConsumerProblem`: the group cannot read, or (null) reads again. */
  problems(group: string): (problem: unknown | null) => void
  partitions(): PartitionHealth[]
  groupProblems(): GroupProblem[]
  /** Whether the group cannot go on now: it cannot read, or a partition's last attempt failed. */
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
  const groups = new Map<string, GroupProblem & { attempts: number; loggedAt: number }>()
  const lastErrorOf = (error: unknown, now: Date): LastError => ({
    code: errorCode(error),
    message: isDependencyUnavailable(error) ? error.message : null,
    at: now.toISOString(),
  })
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
          state.lastError = lastErrorOf(error, now)
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
              ...logFieldsOf(error),
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
    problems(group) {
      return (problem) => {
        const now = options.now()
        const current = groups.get(group)
        if (problem === null) {
          if (current === undefined) return
          groups.delete(group)
          options.logger.warn({ group, attempts: current.attempts }, `${group} reads the log again`)
          return
        }
        const state = current ?? {
          group,
          since: now.toISOString(),
          attempts: 0,
          loggedAt: 0,
          lastError: lastErrorOf(problem, now),
        }
        state.attempts++
        state.lastError = lastErrorOf(problem, now)
        groups.set(group, state)
        if (state.attempts === 1 || now.getTime() - state.loggedAt >= logEveryMs) {
          state.loggedAt = now.getTime()
          options.logger.error(
            { group, attempts: state.attempts, code: state.lastError.code, ...logFieldsOf(problem) },
            `${group} cannot read the log and retries until it can` +
              (state.attempts > 1 ? ` (failing since ${state.since})` : ''),
          )
        }
      }
    },
    groupProblems: () =>
      [...groups.values()].map(({ group, since, lastError }) => ({
        group,
        since,
        lastError: { ...lastError },
      })),
    partitions: () =>
      [...states.values()].map(({ loggedAt: _loggedAt, ...health }) => ({
        ...health,
        lastError: health.lastError && { ...health.lastError },
      })),
    failing: (group) =>
      groups.has(group) || [...states.values()].some((s) => s.group === group && s.consecutiveFailures > 0),
  }
}
