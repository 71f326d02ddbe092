import type { Log } from '../../ports/log.ts'
import { type ConsumerGroup, topicsOfGroup } from '../../schema/topics.ts'
import {
  errorCode,
  type GroupProblem,
  type LastError,
  type PartitionHealth,
} from '../consumers/consumer-health.ts'
import type { ListedDeadLetter } from '../dlq/dead-letters.ts'

export interface PartitionLag {
  group: string
  topic: string
  partition: number
  endOffset: number
  committedOffset: number
  lag: number
}

/** How far each group is behind the end of every partition it reads (end offset minus committed). */
export async function consumerLag(log: Log, groups: readonly ConsumerGroup[]): Promise<PartitionLag[]> {
  const rows: PartitionLag[] = []
  for (const group of groups)
    for (const topic of topicsOfGroup[group]) rows.push(...(await topicLag(log, group, topic)))
  return rows
}

async function topicLag(log: Log, group: string, topic: string): Promise<PartitionLag[]> {
  const [ends, committed] = await Promise.all([log.endOffsets(topic), log.committedOffsets(group, topic)])
  return [...ends]
    .sort(([a], [b]) => a - b)
    .map(([partition, endOffset]) => {
      const committedOffset = committed.get(partition) ?? 0
      return { group, topic, partition, endOffset, committedOffset, lag: endOffset - committedOffset }
    })
}

/** What `sluice status --json` prints and `GET /api/ingestion_status/` answers: numbers and codes, no event data. */
export interface IngestionStatus {
  /** The roles of the process that answered, or null when no sluice runs on the data dir. */
  roles: string[] | null
  backends: { log: string; postgres: string; clickhouse: string }
  consumers: {
    group: string
    topic: string
    /** Null when the log could not say which partitions there are. */
    partition: number | null
    /** Null when the log could not be asked (it is away). */
    end_offset: number | null
    committed_offset: number | null
    lag: number | null
    failures: number
    failing_since: string | null
    last_error: LastError | null
    /** Its last attempt failed: it is waiting for something and does not move. */
    stuck: boolean
  }[]
  dead_letters: {
    total: number
    not_replayed: number
    by_reason: { step: string; code: string; count: number; not_replayed: number }[]
  }
  stuck: boolean
  /**
   * Whether capture's thread is saturated now, so that the split gives way to it (lag grows on
   * purpose, for a bounded time: SLUICE_CAPTURE_PRIORITY_SECONDS); null where the process has no
   * capture thread and split together, or the split never gives way.
   */
  capture_saturated: boolean | null
}

export interface IngestionStatusInput {
  log: Log
  groups: readonly ConsumerGroup[]
  /** The running process's view of its consumers; absent when nothing runs. */
  health?: { partitions: PartitionHealth[]; groups: GroupProblem[] }
  deadLetters: readonly ListedDeadLetter[]
  roles: string[] | null
  backends: IngestionStatus['backends']
  /** Whether capture's thread is saturated (see IngestionStatus), when one runs in the process. */
  captureSaturated?: boolean
}

export async function ingestionStatus(input: IngestionStatusInput): Promise<IngestionStatus> {
  const partitionHealth = new Map(
    (input.health?.partitions ?? []).map((h) => [`${h.group}\u0000${h.topic}\u0000${h.partition}`, h]),
  )
  const groupProblems = new Map((input.health?.groups ?? []).map((g) => [g.group, g]))
  const consumers: IngestionStatus['consumers'] = []
  for (const group of input.groups) {
    const problem = groupProblems.get(group)
    for (const topic of topicsOfGroup[group]) {
      let rows: (Pick<PartitionLag, 'partition'> & Partial<PartitionLag>)[]
      let unreadable: LastError | null = null
      try {
        rows = await topicLag(input.log, group, topic)
      } catch (error) {
        unreadable = { code: errorCode(error), message: null, at: new Date().toISOString() }
        rows = (input.health?.partitions ?? []).filter((h) => h.group === group && h.topic === topic)
      }
      for (const row of rows.length > 0 || unreadable === null ? rows : [{ partition: -1 }]) {
        const health = partitionHealth.get(`${group}\u0000${topic}\u0000${row.partition}`)
        const failing = (health?.consecutiveFailures ?? 0) > 0
        consumers.push({
          group,
          topic,
          partition: row.partition < 0 ? null : row.partition,
          end_offset: row.endOffset ?? null,
          committed_offset: row.committedOffset ?? null,
          lag: row.lag ?? null,
          failures: health?.failures ?? 0,
          failing_since: problem?.since ?? health?.failingSince ?? null,
          last_error: problem?.lastError ?? health?.lastError ?? unreadable,
          stuck: problem !== undefined || failing || (unreadable !== null && input.roles !== null),
        })
      }
    }
  }
  const reasons = new Map<string, IngestionStatus['dead_letters']['by_reason'][number]>()
  for (const letter of input.deadLetters) {
    const code = letter.code ?? 'unknown'
    const key = `${letter.step}\u0000${code}`
    const reason = reasons.get(key) ?? { step: letter.step, code, count: 0, not_replayed: 0 }
    reason.count++
    if (letter.replayedAt === null) reason.not_replayed++
    reasons.set(key, reason)
  }
  return {
    roles: input.roles,
    backends: input.backends,
    consumers,
    dead_letters: {
      total: input.deadLetters.length,
      not_replayed: input.deadLetters.filter((l) => l.replayedAt === null).length,
      by_reason: [...reasons.values()].sort((a, b) => b.count - a.count),
    },
    stuck: consumers.some((c) => c.stuck),
    capture_saturated: input.captureSaturated ?? null,
  }
}
