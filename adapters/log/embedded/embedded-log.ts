import { EventEmitter } from 'node:events'
import { existsSync, rmSync, statfsSync } from 'node:fs'
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
import { durable, lmdbTopic, openTopicBatches, type StoredBatch, type TopicBatches } from './lmdb-topic.ts'
import { segmentTopic } from './segment-topic.ts'
import type { TopicStorage } from './topic-storage.ts'

/** The key of a batch in the root environment, where releases before 2026-12-02 kept every topic's. */
type LegacyBatchKey = [topic: string, partition: number, baseOffset: number]
type OffsetKey = [group: string, topic: string, partition: number]
/** A topic as the root environment keeps it: how its records are stored is decided once, when it is made. */
interface StoredTopic extends TopicSpec {
  storage?: 'segments'
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
  /**
   * Topics kept in segment files (segment-topic.ts) instead of an LMDB environment: those made from
   * now on, and those made before, whose records are moved over by `ensureTopics`.
   */
  segmentTopics?: readonly string[] | 'all'
  /** How big a segment file grows (segment-topic.ts); small ones in tests. */
  segmentBytes?: number
  /**
   * How long the records of a topic of default retention are kept at least: Kafka's default, 7 days
   * (`log.retention.hours`). Unlike Kafka, none goes before every consumer group has read it.
   */
  retentionMs?: number
  /** How often, at most, a partition's old records are looked for after a consumer commits. */
  retentionCheckMs?: number
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

const mib = 1024 * 1024
const kafkaDefaultRetentionMs = 7 * 24 * 60 * 60 * 1000
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
  const topics: Database<StoredTopic, string> = root.openDB({ name: 'topics' })
  const environmentPath = (topic: string) => join(options.path, 'topics', topic)
  const segmentsPath = (topic: string) => join(options.path, 'segments', topic)
  const environments = new Map<string, TopicBatches>()
  const batchesOf = (topic: string): TopicBatches => {
    let environment = environments.get(topic)
    if (environment === undefined) {
      environment = openTopicBatches(environmentPath(topic))
      environments.set(topic, environment)
    }
    return environment
  }
  const storages = new Map<string, TopicStorage>()
  const storageOf = (topic: string): TopicStorage => {
    let storage = storages.get(topic)
    if (storage === undefined) {
      const spec = specOf(topic) // a topic that does not exist gets no directory
      storage =
        spec.storage === 'segments'
          ? segmentTopic({
              dir: segmentsPath(topic),
              topic,
              partitions: spec.partitions,
              segmentBytes: options.segmentBytes,
            })
          : lmdbTopic(topic, batchesOf(topic))
      storages.set(topic, storage)
    }
    return storage
  }
  const inSegments = (topic: string) =>
    options.segmentTopics === 'all' || (options.segmentTopics ?? []).includes(topic)
  const writtenElsewhere = new Set(options.topicsWrittenElsewhere ?? [])
  const appended = new EventEmitter().setMaxListeners(0)
  const appendListeners: ((topic: string, partition: number) => void)[] = []
  const subscriptions = new Set<Subscription>()
  const pollIntervalMs = options.pollIntervalMs ?? 50
  let roundRobin = 0
  let closed = false

  // A topic's partition count and storage never change once it is made, so it is read from disk once.
  const madeTopics = new Map<string, StoredTopic>()
  const specOf = (topic: string): StoredTopic => {
    let spec = madeTopics.get(topic)
    if (spec === undefined) {
      // a snapshot lmdb-js still holds may predate the topic, made by another thread
      root.resetReadTxn()
      spec = topics.get(topic)
      if (spec === undefined) throw new LogUnavailableError(`topic ${topic} does not exist`, { topic })
      madeTopics.set(topic, spec)
    }
    return spec
  }
  const partitionsOf = (topic: string): number => specOf(topic).partitions

  moveLegacyBatches(root, batchesOf)

  /**
   * Moves a topic's records from its LMDB environment to segment files, at the same offsets. The
   * topic's record in the root says where they are; it changes only once every record is in the
   * segments, so a move cut short by a crash starts over at the next open.
   */
  const moveToSegments = async (spec: StoredTopic) => {
    const topic = spec.name
    const started = performance.now()
    let moved = 0
    rmSync(segmentsPath(topic), { recursive: true, force: true })
    const from = batchesOf(topic)
    const to = segmentTopic({ dir: segmentsPath(topic), topic, partitions: spec.partitions })
    try {
      for (let partition = 0; partition < spec.partitions; partition++) {
        let appends: Promise<void>[] = []
        let expected = 0
        for (const { key, value } of from.getRange({
          start: [partition, 0],
          end: [partition, Number.MAX_SAFE_INTEGER],
        })) {
          if (key[1] !== expected)
            throw new Error(
              `${topic} partition ${partition}: a batch at offset ${key[1]}, where ${expected} was next`,
            )
          expected += value.records.length
          moved += value.records.length
          // appended together, they share commits (segment-topic's group commit)
          appends.push(to.append(new Map([[partition, value.records]]), value.timestamp))
          if (appends.length >= 1000) {
            await Promise.all(appends)
            appends = []
          }
        }
        await Promise.all(appends)
      }
    } finally {
      from.resetReadTxn()
      await to.close()
    }
    ensureRoom(topic)
    await durable([topics.put(topic, { ...spec, storage: 'segments' })])
    await root.flushed
    await dropEnvironment(topic)
    options.logger?.info(
      { topic, records: moved, ms: Math.round(performance.now() - started) },
      'the topic moved from LMDB to segment files',
    )
  }
  const dropEnvironment = async (topic: string) => {
    await environments.get(topic)?.close()
    environments.delete(topic)
    rmSync(environmentPath(topic), { recursive: true, force: true })
  }

  const retentionMs = options.retentionMs ?? kafkaDefaultRetentionMs
  const retentionCheckMs = options.retentionCheckMs ?? 60_000
  const retentionChecked = new Map<string, number>()
  /**
   * Removes a partition's records of default retention that every consumer group has read and that
   * are older than the retention, where their storage can (segment files, whole segments) — a group
   * counts once it has committed a position, as it does after its first batch. The
   * request records capture keeps are split into the command log, which is kept for ever, and
   * without this a data dir would only grow. Run after a consumer commits, at most once a
   * `retentionCheckMs` per partition; a failure is reported and tried again at the next.
   */
  const applyRetention = (topic: string, partition: number) => {
    const storage = storages.get(topic)
    if (storage?.removeBefore === undefined || specOf(topic).retention !== 'default') return
    const checked = `${topic}\u0000${partition}`
    const now = performance.now()
    if (now - (retentionChecked.get(checked) ?? Number.NEGATIVE_INFINITY) < retentionCheckMs) return
    retentionChecked.set(checked, now)
    // a failure here is the retention's, never the commit's it follows
    try {
      let readByAll = Number.POSITIVE_INFINITY
      root.resetReadTxn() // a group another thread made is counted too
      for (const { key, value } of offsets.getRange())
        if (key[1] === topic && key[2] === partition) readByAll = Math.min(readByAll, value)
      if (readByAll === Number.POSITIVE_INFINITY) return
      const removed = storage.removeBefore(partition, readByAll, Date.now() - retentionMs)
      if (removed > 0)
        options.logger?.debug({ topic, partition, before: readByAll, removed }, 'old segments removed')
    } catch (error) {
      options.logger?.warn(
        { topic, partition, error: (error as Error).message },
        'old segments could not be removed; trying again later',
      )
    }
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

  return {
    async ensureTopics(specs) {
      for (const spec of specs) {
        const made = topics.get(spec.name)
        if (made === undefined) {
          ensureRoom(spec.name)
          await durable([
            topics.put(spec.name, inSegments(spec.name) ? { ...spec, storage: 'segments' } : spec),
          ])
        } else if (made.storage !== 'segments' && inSegments(spec.name)) {
          await storages.get(spec.name)?.close()
          storages.delete(spec.name)
          await moveToSegments(made)
          madeTopics.delete(spec.name)
        } else if (made.storage === 'segments' && existsSync(environmentPath(spec.name))) {
          // left by a move cut short once its records were in the segments
          await dropEnvironment(spec.name)
        }
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
      const byPartition = new Map<number, LogRecord[]>()
      for (const record of records) {
        const partition =
          record.key === null ? roundRobin++ % partitions : partitionForKey(record.key, partitions)
        const stored: LogRecord = { key: record.key, value: record.value }
        if (record.headers) stored.headers = record.headers
        const list = byPartition.get(partition)
        if (list) list.push(stored)
        else byPartition.set(partition, [stored])
      }
      try {
        await storageOf(topic).append(byPartition, Date.now())
      } catch (error) {
        throw new LogUnavailableError(`appending to ${topic} failed`, { topic, cause: error })
      }
      for (const partition of byPartition.keys()) {
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
        readRange: (topic, partition, fromOffset, maxMessages) =>
          storageOf(topic).read(partition, fromOffset, maxMessages),
        committed: (group, topic, partition) => offsets.get([group, topic, partition]),
        async commit(group, topic, partition, next) {
          ensureRoom(topic)
          await durable([offsets.put([group, topic, partition], next)])
          applyRetention(topic, partition)
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
        result.set(partition, storageOf(topic).end(partition))
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
      for (const [partition, offset] of committed) {
        await durable([offsets.put([groupId, topic, partition], offset)])
        applyRetention(topic, partition)
      }
    },

    async read(topic, partition, fromOffset, maxMessages) {
      return storageOf(topic).read(partition, fromOffset, maxMessages)
    },

    async close() {
      if (closed) return
      closed = true
      await Promise.all([...subscriptions].map((s) => s.stop()))
      await Promise.all([...storages.values()].map((storage) => storage.close()))
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
function moveLegacyBatches(root: RootDatabase, batchesOf: (topic: string) => TopicBatches): void {
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
