import { type ClickHouse, ClickHouseRejectedError } from '../../ports/clickhouse.ts'
import type { Log, LogBatch, LogMessage, SubscribeOptions, Subscription } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'
import type { ProjectedTable } from '../../schema/clickhouse/migrations.ts'
import { type DeadLetterCode, deadLetterRecord, type SetAside } from '../../schema/dead-letter.ts'
import { ConsumerGroups, type FactTopic, factTopics, Topics } from '../../schema/topics.ts'
import { type Utf8Bytes, utf8Bytes } from '../utf8-bytes.ts'

export const projectorGroupId = ConsumerGroups.projector

const tableOf: Record<FactTopic, ProjectedTable> = {
  [Topics.events]: 'events',
  [Topics.persons]: 'person',
  [Topics.distinctIds]: 'person_distinct_id2',
  [Topics.groups]: 'groups',
  [Topics.personMerges]: 'person_merges',
  [Topics.ingestionWarnings]: 'ingestion_warnings',
}

export interface ProjectorOptions {
  log: Log
  clickhouse: ClickHouse
  logger?: Logger
  groupId?: string
  maxBatchSize?: number
  /** The longest a busy table's next insert waits for rows to gather (ms; 0: never waits). */
  maxGatherMs?: number
  now?: () => Date
  onBatch?: (topic: string, rows: number, seconds: number) => void
  /** Wraps the batch handler, e.g. to report its failures (a failed batch is handed over again). */
  watch?: (eachBatch: (batch: LogBatch) => Promise<void>) => (batch: LogBatch) => Promise<void>
  onConsumerProblem?: SubscribeOptions['onConsumerProblem']
}

export interface Projector {
  stop(): Promise<void>
  readonly done: Promise<void>
  /** Rows inserted so far, per table. */
  readonly projected: Map<string, number>
}

/**
 * Reads the fact topics and inserts each batch into its ClickHouse table in one insert; the batch's
 * position is committed only after ClickHouse has the rows (at least once). Redelivered rows
 * collapse by version (persons, ids, groups) or uuid (events) in every query.
 *
 * A busy table gathers rows, 10 ms for each row of its last batch, at most `maxGatherMs`: an insert
 * costs ClickHouse about the same whatever its size (about 15 ms of chDB's CPU for `events`,
 * docs/benchmarks.md), and ClickHouse advises few large inserts.
 */
export function startClickHouseProjector(options: ProjectorOptions): Projector {
  const projected = new Map<string, number>()
  const now = options.now ?? (() => new Date())
  const watch = options.watch ?? ((eachBatch) => eachBatch)
  const subscription: Subscription = options.log.subscribe({
    groupId: options.groupId ?? projectorGroupId,
    topics: [...factTopics],
    maxBatchSize: options.maxBatchSize ?? 5000,
    gather: { perMessageMs: 10, maxMs: options.maxGatherMs ?? 250 },
    onConsumerProblem: options.onConsumerProblem,
    eachBatch: watch(async (batch: LogBatch) => {
      const started = performance.now()
      const table = tableOf[batch.topic as FactTopic]
      // each row as it came, with its Kafka columns (about 60 bytes)
      const rows = utf8Bytes(batch.messages.reduce((bytes, message) => bytes + message.value.length + 64, 0))
      const lines: { message: LogMessage; start: number; end: number }[] = []
      const unreadable: { message: LogMessage; setAside: SetAside }[] = []
      for (const message of batch.messages) {
        const start = rows.length
        if (writeRowLine(rows, message)) lines.push({ message, start, end: rows.length })
        else unreadable.push({ message, setAside: setAside('fact_unreadable', 'fact is not a JSON object') })
      }
      let refused = 0
      try {
        await options.clickhouse.insertJsonEachRow(table, rows.bytes())
      } catch (error) {
        if (!(error instanceof ClickHouseRejectedError)) throw error
        // Some row is bad: find it (one insert per row, only on this rare path) and dead-letter it.
        const all = rows.bytes()
        for (const { message, start, end } of lines) {
          try {
            await options.clickhouse.insertJsonEachRow(table, all.subarray(start, end))
          } catch (rowError) {
            if (!(rowError instanceof ClickHouseRejectedError)) throw rowError
            unreadable.push({
              message,
              setAside: setAside(
                'clickhouse_refused',
                `ClickHouse refused the row: ${rowError.message.slice(0, 500)}`,
              ),
            })
            refused++
          }
        }
      }
      if (unreadable.length > 0) {
        await options.log.append(
          Topics.deadLetters,
          unreadable.map(({ message, setAside }) => deadLetterRecord(message, setAside, now())),
        )
        options.logger?.warn(
          { topic: batch.topic, count: unreadable.length },
          'unreadable facts sent to the dead letter queue',
        )
      }
      const inserted = lines.length - refused
      projected.set(table, (projected.get(table) ?? 0) + inserted)
      options.onBatch?.(batch.topic, inserted, (performance.now() - started) / 1000)
    }),
  })
  return { stop: () => subscription.stop(), done: subscription.done, projected }
}

const setAside = (code: DeadLetterCode, reason: string): SetAside => ({
  step: 'clickhouse_projection',
  code,
  reason,
})

/**
 * The fact as one JSONEachRow line with the Kafka columns PostHog's tables carry, written as text:
 * the facts are JSON already, and parsing and re-serialising every row would double the cost.
 * False, and nothing written, for a fact that is not a JSON object.
 */
function writeRowLine(rows: Utf8Bytes, message: LogMessage): boolean {
  const value = message.value.trim()
  if (!value.startsWith('{') || !value.endsWith('}')) return false
  const kafkaColumns = `"_timestamp":${Math.floor(message.timestamp / 1000)},"_offset":${message.offset},"_partition":${message.partition}}\n`
  if (/^\{\s*\}$/.test(value)) rows.write(`{${kafkaColumns}`)
  else {
    rows.write(value.slice(0, -1))
    rows.write(`,${kafkaColumns}`)
  }
  return true
}
