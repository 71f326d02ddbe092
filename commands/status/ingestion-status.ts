import type { Log } from '../../ports/log.ts'
import { type ConsumerGroup, topicsOfGroup } from '../../schema/topics.ts'
import type { LastError, PartitionHealth } from '../consumers/consumer-health.ts'
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
  for (const group of groups) {
    for (const topic of topicsOfGroup[group]) {
      const [ends, committed] = await Promise.all([log.endOffsets(topic), log.committedOffsets(group, topic)])
      for (const [partition, endOffset] of [...ends].sort(([a], [b]) => a - b)) {
        const committedOffset = committed.get(partition) ?? 0
        rows.push({ group, topic, partition, endOffset, committedOffset, lag: endOffset - committedOffset })
      }
    }
  }
  return rows
}

/** What `sluice status --json` prints and `GET /api/ingestion_status/` answers: numbers and codes, no event data. */
export interface IngestionStatus {
  /** The roles of the process that answered, or null when no sluice runs on the data dir. */
  roles: string[] | null
  backends: { log: string; postgres: string; clickhouse: string }
  consumers: {
    group: string
    topic: string
    partition: number
    end_offset: number
    committed_offset: number
    lag: number
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
}

export interface IngestionStatusInput {
  log: Log
  groups: readonly ConsumerGroup[]
  /** The running process's view of its consumers; absent when nothing runs. */
  health?: PartitionHealth[]
  deadLetters: readonly ListedDeadLetter[]
  roles: string[] | null
  backends: IngestionStatus['backends']
}

export async function ingestionStatus(input: IngestionStatusInput): Promise<IngestionStatus> {
  const lag = await consumerLag(input.log, input.groups)
  const healthOf = new Map(
    (input.health ?? []).map((h) => [`${h.group}\u0000${h.topic}\u0000${h.partition}`, h]),
  )
  const consumers = lag.map((row) => {
    const health = healthOf.get(`${row.group}\u0000${row.topic}\u0000${row.partition}`)
    return {
      group: row.group,
      topic: row.topic,
      partition: row.partition,
      end_offset: row.endOffset,
      committed_offset: row.committedOffset,
      lag: row.lag,
      failures: health?.failures ?? 0,
      failing_since: health?.failingSince ?? null,
      last_error: health?.lastError ?? null,
      stuck: (health?.consecutiveFailures ?? 0) > 0,
    }
  })
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
  }
}
