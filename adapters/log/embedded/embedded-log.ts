import { EventEmitter } from 'node:events'
import { statfsSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Database, open, type RootDatabase } from 'lmdb'
import type {
  Log,
  LogMessage,
  LogRecord,
  SubscribeOptions,
  Subscription,
  TopicSpec,
} from '../../../ports/log.ts'
import { gatheringMs, LogUnavailableError } from '../../../ports/log.ts'
import type { Logger } from '../../../ports/logger.ts'
import { partitionForKey } from '../murmur2.ts'

/** Where a record batch starts: like Kafka, the records of one append to a partition are stored together. */
type BatchKey = [partition: number, baseOffset: number]
/** The key of a batch in the root environment, where releases before 2026-12-02 kept every topic's. */
type LegacyBatchKey = [topic: string, partition: number, baseOffset: number]
type OffsetKey = [group: string, topic: string, partition: number]
interface StoredRecord {
  key: string | null
  value: string
  headers?: Record<string, string>
}
interface StoredBatch {
  timestamp: number
  records: StoredRecord[]
}

export interface EmbeddedLogOptions {
  path: string
  logger?: Logger
  /** How often a consumer looks for records appended by another thread or process. */
  pollIntervalMs?: number
  /**
   * Topics another thread of this process appends to (capture's thread writes the command log).
   * Offsets are assigned in memory, so each topic has one writer: appending to these here throws.
   */
  topicsWrittenElsewhere?: readonly string[]
}

export function isEmbeddedLog(log: Log): log is EmbeddedLog {
  return 'noticeAppend' in log
}

/** The embedded log, and what threads sharing its data dir tell each other. */
export interface EmbeddedLog extends Log {
  /** Another thread appended to a partition: consumers here look at once instead of at their next poll. */
  noticeAppend(topic: string, partition: number): void
  /** Hears of every append made here, once it is durable. */
  onAppend(listener: (topic: string, partition: number) => void): void
}

const lastOffset = Number.MAX_SAFE_INTEGER
const mib = 1024 * 1024
/** Room on the data dir's disk the log never writes into (see ensureRoom). */
const reservedBytes = 64 * mib
/** How long, and how many bytes appended, the free room last measured is taken as still known. */
const roomRecheckMs = 20
const roomRecheckBytes = 4 * mib

/**
 * Kafka's model — topics, partitions, offsets, consumer groups — in LMDB environments in the data
 * dir: each topic's records in an environment of its own (`<path>/topics/<topic>`), topics and
 * consumer positions in the root one (`<path>`). Appends to a topic queued in the same event turn
 * share one LMDB transaction and one fsync (group commit), and `append` resolves only once they are
 * on disk. A topic of its own environment is what lets capture's thread commit a request without
 * waiting for LMDB's write lock while the main thread writes a large batch of commands or facts —
 * LMDB has one writer per environment. Offsets are assigned in memory, so each topic has one writer:
 * one process holds the data dir (its lock), and within it one thread appends to each topic
 * (`topicsWrittenElsewhere`). Reads, end offsets and consumer positions come from disk, so any
 * thread sees what another committed.
 */
export function createEmbeddedLog(options: EmbeddedLogOptions): EmbeddedLog {
  const root: RootDatabase = open({ path: options.path, compression: false })
  const offsets: Database<number, OffsetKey> = root.openDB({ name: 'consumer_offsets' })
  const topics: Database<TopicSpec, string> = root.openDB({ name: 'topics' })
  const environments = new Map<string, RootDatabase<StoredBatch, BatchKey>>()
  const batchesOf = (topic: string): RootDatabase<StoredBatch, BatchKey> => {
    let environment = environments.get(topic)
    if (environment === undefined) {
      partitionsOf(topic) // a topic that does not exist gets no directory
      environment = open<StoredBatch, BatchKey>({
        path: join(options.path, 'topics', topic),
        compression: false,
        // each put's own transaction's sync (see append), not whatever the env committed since
        separateFlushed: true,
      })
      environments.set(topic, environment)
    }
    return environment
  }
  const nextOffsets = new Map<string, number>()
  const writtenElsewhere = new Set(options.topicsWrittenElsewhere ?? [])
  const appended = new EventEmitter().setMaxListeners(0)
  const appendListeners: ((topic: string, partition: number) => void)[] = []
  const subscriptions = new Set<Subscription>()
  const pollIntervalMs = options.pollIntervalMs ?? 50
  let roundRobin = 0
  let closed = false

  // A topic's partition count never changes once created, so it is read from disk once.
  const partitionCounts = new Map<string, number>()
  const partitionsOf = (topic: string): number => {
    let partitions = partitionCounts.get(topic)
    if (partitions === undefined) {
      const spec = topics.get(topic)
      if (spec === undefined) throw new LogUnavailableError(`topic ${topic} does not exist`, { topic })
      partitions = spec.partitions
      partitionCounts.set(topic, partitions)
    }
    return partitions
  }

  moveLegacyBatches(root, batchesOf)

  /**
   * Reads a topic and lets its snapshot go at once. A read snapshot keeps every page the topic's
   * writer frees after it from being reused, and lmdb-js holds one until the thread's next timer
   * phase, which a busy main thread (SCHED_IDLE under load) reaches late: LMDB's free list then grew
   * until the integrity check lmdb-js runs on it at every commit took near half of libuv's pool,
   * where every topic's commits run (perf, `sluice start` under 50-event batches).
   */
  const fromSnapshot = <T>(topic: string, read: (batches: RootDatabase<StoredBatch, BatchKey>) => T): T => {
    const batches = batchesOf(topic)
    try {
      return read(batches)
    } finally {
      batches.resetReadTxn()
    }
  }
  /** The offset after the last record on disk. */
  const endOnDisk = (topic: string, partition: number): number =>
    fromSnapshot(topic, (batches) => {
      for (const { key, value } of batches.getRange({
        start: [partition, lastOffset],
        end: [partition, -1],
        reverse: true,
        limit: 1,
      })) {
        return key[1] + value.records.length
      }
      return 0
    })
  /** The next offset to append at: this thread is the topic's one writer, so it is kept in memory. */
  const nextOffset = (topic: string, partition: number): number => {
    const id = `${topic}\u0000${partition}`
    let next = nextOffsets.get(id)
    if (next === undefined) {
      next = endOnDisk(topic, partition)
      nextOffsets.set(id, next)
    }
    return next
  }

  const room = { free: 0, measuredAt: Number.NEGATIVE_INFINITY, unaccounted: 0 }
  /**
   * Refuses a write while the data dir's disk has less than `reservedBytes` free. LMDB that runs out
   * of room in the middle of a commit can corrupt the process's memory (measured: glibc aborts with
   * "corrupted size vs. prev_size" in two runs of three; lmdb-js #40): a refused write is retried
   * by whoever made it — capture answers 503, a consumer waits and says so — a crash is not.
   */
  const ensureRoom = (topic?: string, bytes = 0) => {
    // statfs took 8 µs of every capture request: the disk is asked again only after some time or
    // some megabytes, or every time once it is near the reserve
    room.unaccounted += bytes
    const now = performance.now()
    if (
      room.free - room.unaccounted > 2 * reservedBytes &&
      now - room.measuredAt < roomRecheckMs &&
      room.unaccounted < roomRecheckBytes
    )
      return
    const { bavail, bsize } = statfsSync(options.path)
    const free = Number(bavail) * Number(bsize)
    room.free = free
    room.measuredAt = now
    room.unaccounted = 0
    if (free < reservedBytes)
      throw new LogUnavailableError(
        `the disk of ${options.path} has ${Math.floor(free / mib)} MiB free, less than the ${reservedBytes / mib} MiB the log keeps in reserve: free some room`,
        { topic },
      )
  }

  const readRange = (topic: string, partition: number, fromOffset: number, maxMessages: number) =>
    fromSnapshot(topic, (batches): LogMessage[] => {
      const result: LogMessage[] = []
      // the batch holding fromOffset starts at or before it
      let start = fromOffset
      for (const key of batches.getKeys({
        start: [partition, fromOffset],
        end: [partition, -1],
        reverse: true,
        limit: 1,
      })) {
        start = key[1]
      }
      for (const { key, value } of batches.getRange({
        start: [partition, start],
        end: [partition, lastOffset],
      })) {
        const baseOffset = key[1]
        for (let i = Math.max(0, fromOffset - baseOffset); i < value.records.length; i++) {
          result.push({
            topic,
            partition,
            offset: baseOffset + i,
            timestamp: value.timestamp,
            ...value.records[i]!,
          })
          if (result.length >= maxMessages) return result
        }
      }
      return result
    })

  return {
    async ensureTopics(specs) {
      for (const spec of specs) {
        if (topics.get(spec.name) !== undefined) continue
        ensureRoom(spec.name)
        await durable([topics.put(spec.name, spec)])
      }
      await root.flushed
    },

    async append(topic, records: LogRecord[]) {
      if (closed) throw new LogUnavailableError('the embedded log is closed', { topic })
      if (writtenElsewhere.has(topic)) throw new Error(`${topic} is appended to by another thread`)
      if (records.length === 0) return
      let bytes = 0
      for (const record of records) bytes += record.value.length
      ensureRoom(topic, 3 * bytes)
      const partitions = partitionsOf(topic)
      const byPartition = new Map<number, StoredRecord[]>()
      for (const record of records) {
        const partition =
          record.key === null ? roundRobin++ % partitions : partitionForKey(record.key, partitions)
        const stored: StoredRecord = { key: record.key, value: record.value }
        if (record.headers) stored.headers = record.headers
        const list = byPartition.get(partition)
        if (list) list.push(stored)
        else byPartition.set(partition, [stored])
      }
      const timestamp = Date.now()
      const batches = batchesOf(topic)
      const writes: FlushedWrite[] = []
      const touched = [...byPartition.keys()]
      for (const [partition, list] of byPartition) {
        const baseOffset = nextOffset(topic, partition)
        nextOffsets.set(`${topic}\u0000${partition}`, baseOffset + list.length)
        writes.push(batches.put([partition, baseOffset], { timestamp, records: list }))
      }
      try {
        await durable(writes)
        // The sync of the transaction holding these records: the env's `flushed` would also wait
        // for transactions begun since, which under load adds a commit to every append.
        await Promise.all(writes.map((write) => write.flushed))
      } catch (error) {
        // A failed commit leaves offsets in memory that never reached disk: recount from disk.
        nextOffsets.clear()
        throw new LogUnavailableError(`appending to ${topic} failed`, { topic, cause: error })
      }
      for (const partition of touched) {
        appended.emit(`${topic}\u0000${partition}`)
        for (const listener of appendListeners) listener(topic, partition)
      }
    },

    noticeAppend(topic, partition) {
      appended.emit(`${topic}\u0000${partition}`)
    },

    onAppend(listener) {
      appendListeners.push(listener)
    },

    subscribe(subscribeOptions) {
      const subscription = runSubscription(subscribeOptions, {
        partitionsOf,
        readRange,
        committed: (group, topic, partition) => offsets.get([group, topic, partition]),
        async commit(group, topic, partition, next) {
          ensureRoom(topic)
          await durable([offsets.put([group, topic, partition], next)])
        },
        waitForAppend: (topic, partition, signal) =>
          new Promise<void>((resolve) => {
            const event = `${topic}\u0000${partition}`
            const done = () => {
              clearTimeout(timer)
              appended.off(event, done)
              signal.removeEventListener('abort', done)
              resolve()
            }
            const timer = setTimeout(done, pollIntervalMs)
            appended.once(event, done)
            signal.addEventListener('abort', done, { once: true })
          }),
        logger: options.logger,
      })
      subscriptions.add(subscription)
      subscription.done.finally(() => subscriptions.delete(subscription)).catch(() => {})
      return subscription
    },

    async endOffsets(topic) {
      const result = new Map<number, number>()
      for (let partition = 0; partition < partitionsOf(topic); partition++)
        result.set(partition, endOnDisk(topic, partition))
      return result
    },

    async committedOffsets(groupId, topic) {
      const result = new Map<number, number>()
      for (let partition = 0; partition < partitionsOf(topic); partition++) {
        const committed = offsets.get([groupId, topic, partition])
        if (committed !== undefined) result.set(partition, committed)
      }
      return result
    },

    async commitOffsets(groupId, topic, committed) {
      ensureRoom(topic)
      for (const [partition, offset] of committed)
        await durable([offsets.put([groupId, topic, partition], offset)])
    },

    async read(topic, partition, fromOffset, maxMessages) {
      return readRange(topic, partition, fromOffset, maxMessages)
    },

    async close() {
      if (closed) return
      closed = true
      await Promise.all([...subscriptions].map((s) => s.stop()))
      await Promise.all([...environments.values()].map((environment) => environment.close()))
      await root.close()
    },
  }
}

/**
 * Releases before 2026-12-02 kept every topic's batches in the root environment: they move to their
 * topic's, in chunks each committed on the topic's side before it is deleted from the root, so a
 * move cut short by a crash is taken up again at the next open (copying a batch twice writes the
 * same key and value).
 */
function moveLegacyBatches(
  root: RootDatabase,
  batchesOf: (topic: string) => RootDatabase<StoredBatch, BatchKey>,
): void {
  const legacy: Database<StoredBatch, LegacyBatchKey> = root.openDB({ name: 'record_batches' })
  for (;;) {
    const chunk = [...legacy.getRange({ limit: 1000 })]
    if (chunk.length === 0) return
    for (const topic of new Set(chunk.map(({ key }) => key[0]))) {
      const batches = batchesOf(topic)
      batches.transactionSync(() => {
        for (const { key, value } of chunk) if (key[0] === topic) batches.putSync([key[1], key[2]], value)
      })
    }
    legacy.transactionSync(() => {
      for (const { key } of chunk) legacy.removeSync(key)
    })
  }
}

/** A put into an env opened with `separateFlushed`: `flushed` settles once its transaction is synced. */
type FlushedWrite = Promise<boolean> & { flushed?: Promise<boolean> }

/**
 * Waits for every write of a transaction, and fails with the reason LMDB gives when its commit
 * failed (a full disk, an I/O error). LMDB rejects each write of a failed commit and keeps the
 * reason in a promise of its own: every one of them is handled here, so a failed commit is an
 * error for the caller to handle — never an unhandled rejection that takes the process down.
 */
async function durable(writes: readonly Promise<boolean>[]): Promise<void> {
  const settled = await Promise.allSettled(writes)
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
  if (failed === undefined) return
  const commitError = (failed.reason as { commitError?: Promise<never> } | null)?.commitError
  for (const s of settled)
    if (s.status === 'rejected')
      (s.reason as { commitError?: Promise<never> } | null)?.commitError?.catch(() => {})
  const reason = commitError ? await commitError.catch((error: unknown) => error) : failed.reason
  throw reason
}

interface SubscriptionBackend {
  partitionsOf(topic: string): number
  readRange(topic: string, partition: number, fromOffset: number, maxMessages: number): LogMessage[]
  committed(group: string, topic: string, partition: number): number | undefined
  commit(group: string, topic: string, partition: number, nextOffset: number): Promise<void>
  waitForAppend(topic: string, partition: number, signal: AbortSignal): Promise<void>
  logger: Logger | undefined
}

/**
 * One loop per partition: read from the position, hand the batch over, commit, move on. A batch
 * whose handler fails is handed over again after a backoff — never skipped — so nothing is lost;
 * a position or a read that fails is tried again the same way, and reported as a problem.
 */
function runSubscription(options: SubscribeOptions, backend: SubscriptionBackend): Subscription {
  const stopping = new AbortController()
  const loops: Promise<void>[] = []
  // The subscription has a problem while any of its partitions has one; it is over when none has.
  const troubled = new Set<string>()
  const problem = (loop: string) => (error: unknown | null) => {
    if (error !== null) {
      troubled.add(loop)
      options.onConsumerProblem?.(error)
    } else if (troubled.delete(loop) && troubled.size === 0) options.onConsumerProblem?.(null)
  }
  for (const topic of options.topics) {
    for (let partition = 0; partition < backend.partitionsOf(topic); partition++) {
      const report = problem(`${topic}\u0000${partition}`)
      loops.push(consumePartition(options, backend, topic, partition, report, stopping.signal))
    }
  }
  const done = Promise.all(loops).then(() => undefined)
  return {
    done,
    async stop() {
      stopping.abort()
      await done.catch(() => {})
    },
  }
}

async function consumePartition(
  options: SubscribeOptions,
  backend: SubscriptionBackend,
  topic: string,
  partition: number,
  reportProblem: (problem: unknown | null) => void,
  signal: AbortSignal,
): Promise<void> {
  let position: number | undefined
  // a position that is consumed but could not be recorded (a full disk) is recorded when it can be
  let unrecorded = false
  let failures = 0
  const record = async (next: number) => {
    try {
      await backend.commit(options.groupId, topic, partition, next)
      unrecorded = false
    } catch (error) {
      // The batch is done; until its position is recorded a restart would hand it over again, which
      // every consumer absorbs (ingest recognises applied offsets).
      if (!unrecorded)
        backend.logger?.warn(
          { error: (error as Error).message, group: options.groupId, topic, partition, offset: next },
          'the consumer position could not be recorded in the embedded log; going on, and trying again',
        )
      unrecorded = true
    }
  }
  // the handler's owner reports failures to the operator; this only paces the next attempt
  const backOff = async (error: unknown) => {
    failures++
    const delay = Math.min(100 * 2 ** (failures - 1), 5000)
    backend.logger?.debug(
      {
        err: error,
        group: options.groupId,
        topic,
        partition,
        offset: position,
        attempt: failures,
        retryInMs: delay,
      },
      'batch failed; it will be handed over again',
    )
    await sleep(delay, undefined, { signal }).catch(() => {})
  }
  while (!signal.aborted) {
    let messages: LogMessage[]
    try {
      position ??=
        (await options.startOffset?.(topic, partition)) ??
        backend.committed(options.groupId, topic, partition) ??
        0
      messages = backend.readRange(topic, partition, position, options.maxBatchSize)
    } catch (error) {
      reportProblem(error)
      await backOff(error)
      continue
    }
    reportProblem(null)
    if (messages.length === 0) {
      if (unrecorded) await record(position)
      await backend.waitForAppend(topic, partition, signal)
      continue
    }
    const handedOver = performance.now()
    try {
      await options.eachBatch({ topic, partition, messages })
    } catch (error) {
      await backOff(error)
      continue
    }
    failures = 0
    position = messages.at(-1)!.offset + 1
    await record(position)
    const gathering = handedOver + gatheringMs(messages.length, options) - performance.now()
    if (gathering > 0) await sleep(gathering, undefined, { signal }).catch(() => {})
  }
}
