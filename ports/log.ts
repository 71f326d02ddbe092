import { DependencyUnavailableError } from './failures.ts'

/**
 * The log port: a partitioned, ordered, durable log with consumer groups — Kafka's model.
 * Adapters: the embedded LMDB log in the data dir, and Apache Kafka through kafkajs. Both pass
 * the same contract suite (`tests/contracts/log.contract.ts`).
 */
export interface LogRecord {
  /** Records with the same key go to the same partition, in order. */
  key: string | null
  value: string
  headers?: Record<string, string>
}

export interface LogMessage extends LogRecord {
  topic: string
  partition: number
  offset: number
  /** Append time, epoch ms. */
  timestamp: number
}

export interface TopicSpec {
  name: string
  partitions: number
  /** `forever` keeps every record (the command log must survive for replay). */
  retention: 'forever' | 'default'
}

export interface LogBatch {
  topic: string
  partition: number
  messages: LogMessage[]
}

export interface SubscribeOptions {
  groupId: string
  topics: string[]
  /** Upper bound of messages handed to one `eachBatch` call. */
  maxBatchSize: number
  /**
   * Lets a busy partition gather messages: after a batch of n that was not full, the partition's
   * next batch is read no sooner than `min(maxMs, n × perMessageMs)` after that one was handed
   * over. What a batch costs whatever its size (a transaction, an insert, a commit) then goes on
   * more messages; a lone message at idle holds its partition `perMessageMs` at most.
   */
  gather?: Gathering
  /**
   * Where to resume a partition when this consumer is assigned it. Returning a number overrides
   * the group's committed offset — ingest keeps its offsets in Postgres, in the same transaction
   * as the projection, and resumes from there. `undefined` → committed offset, else the start.
   */
  startOffset?: (topic: string, partition: number) => Promise<number | undefined>
  /** Handles one batch of one partition; the batch's offsets are committed after it resolves. */
  eachBatch: (batch: LogBatch) => Promise<void>
  /**
   * Told when the consumer cannot read, join or find where to start (the log, or what `startOffset`
   * asks, is away) — it keeps trying — with the error, and with null once it consumes again.
   */
  onConsumerProblem?: (problem: unknown | null) => void
}

export interface Gathering {
  perMessageMs: number
  maxMs: number
}

/** How long after a batch of `messages` was handed over the partition's next one waits (see `gather`). */
export function gatheringMs(
  messages: number,
  options: Pick<SubscribeOptions, 'maxBatchSize' | 'gather'>,
): number {
  const { gather, maxBatchSize } = options
  if (gather === undefined || messages >= maxBatchSize) return 0
  return Math.min(gather.maxMs, messages * gather.perMessageMs)
}

export interface Subscription {
  /** Stops fetching, waits for the batch in hand, commits it. */
  stop(): Promise<void>
  /** Settles when the subscription ends; rejects when it failed and cannot go on. */
  readonly done: Promise<void>
}

export interface Log {
  ensureTopics(topics: TopicSpec[]): Promise<void>
  /** Resolves only when every record is durable (fsynced, or acked by all in-sync replicas). */
  append(topic: string, records: LogRecord[]): Promise<void>
  subscribe(options: SubscribeOptions): Subscription
  /** Next offset to be written, per partition. */
  endOffsets(topic: string): Promise<Map<number, number>>
  /** The group's committed offsets, per partition (for lag). */
  committedOffsets(groupId: string, topic: string): Promise<Map<number, number>>
  /** Sets a group's committed offsets (replay moves consumers; the group must not be consuming). */
  commitOffsets(groupId: string, topic: string, offsets: ReadonlyMap<number, number>): Promise<void>
  /** Reads records from one partition without a group (replay, DLQ inspection, tests). */
  read(topic: string, partition: number, fromOffset: number, maxMessages: number): Promise<LogMessage[]>
  close(): Promise<void>
}

/** The log cannot take or give records right now (broker away, disk full): retried, never skipped. */
export class LogUnavailableError extends DependencyUnavailableError {
  override readonly name = 'LogUnavailableError'
  constructor(
    message: string,
    readonly context: { topic?: string; cause?: unknown } = {},
  ) {
    super('log', message, { cause: context.cause })
  }
}
