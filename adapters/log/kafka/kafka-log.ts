import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  type Admin,
  CompressionTypes,
  type Consumer,
  type EachBatchPayload,
  Kafka,
  type KafkaMessage,
  logLevel,
  type Producer,
} from 'kafkajs'
import {
  gatheringMs,
  type Log,
  type LogBatch,
  type LogMessage,
  type LogRecord,
  LogUnavailableError,
  type SubscribeOptions,
  type Subscription,
} from '../../../ports/log.ts'
import type { Logger } from '../../../ports/logger.ts'
import { kafkaLogCreator } from './kafka-chatter.ts'

export interface KafkaLogOptions {
  brokers: string[]
  clientId: string
  logger?: Logger
  /** How long an append may wait for the brokers before the caller is told the log is unavailable. */
  appendTimeoutMs?: number
  /** Put before every topic and consumer group name (PostHog's KAFKA_PREFIX). */
  prefix?: string
}

const kafkaRetry = { retries: 5, initialRetryTime: 200, maxRetryTime: 3000 }

interface PendingAppend {
  topic: string
  records: LogRecord[]
  resolve: () => void
  reject: (error: unknown) => void
}

/**
 * The log port on Apache Kafka through kafkajs: an idempotent producer with acks from all in-sync
 * replicas, gzip, and appends of the same event turn sent as one request (group commit); consumer
 * groups with manual commits after the work is done, and `startOffset` honoured on assignment.
 */
export function createKafkaLog(options: KafkaLogOptions): Log {
  const logger = options.logger
  const prefix = options.prefix ?? ''
  const named = (topic: string) => `${prefix}${topic}`
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    retry: kafkaRetry,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
  })
  const admin: Admin = kafka.admin()
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  })
  // Connected on first use; a connection that failed (the brokers were away) is tried again by the
  // next use instead of failing every later one.
  let connecting: Promise<unknown> | undefined
  const connected = () => {
    connecting ??= Promise.all([admin.connect(), producer.connect()]).catch((error: unknown) => {
      connecting = undefined
      throw error
    })
    return connecting
  }
  const subscriptions = new Set<Subscription>()
  const appendTimeoutMs = options.appendTimeoutMs ?? 5000
  let pending: PendingAppend[] = []
  let flushScheduled = false

  const flush = async () => {
    flushScheduled = false
    const appends = pending
    pending = []
    const byTopic = new Map<string, LogRecord[]>()
    for (const append of appends)
      byTopic.set(append.topic, [...(byTopic.get(append.topic) ?? []), ...append.records])
    try {
      await connected()
      await withTimeout(
        producer.sendBatch({
          acks: -1,
          compression: CompressionTypes.GZIP,
          topicMessages: [...byTopic].map(([topic, records]) => ({
            topic: named(topic),
            messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
          })),
        }),
        appendTimeoutMs,
      )
      for (const append of appends) append.resolve()
    } catch (error) {
      const unavailable = new LogUnavailableError(
        `Kafka did not take the records: ${(error as Error).message}`,
        { cause: error },
      )
      for (const append of appends) append.reject(unavailable)
    }
  }

  return {
    async ensureTopics(specs) {
      await connected()
      const existing = new Set(await admin.listTopics())
      const missing = specs.filter((s) => !existing.has(named(s.name)))
      if (missing.length === 0) return
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((spec) => ({
          topic: named(spec.name),
          numPartitions: spec.partitions,
          configEntries: spec.retention === 'forever' ? [{ name: 'retention.ms', value: '-1' }] : [],
        })),
      })
    },

    append(topic, records) {
      if (records.length === 0) return Promise.resolve()
      return new Promise<void>((resolve, reject) => {
        pending.push({ topic, records, resolve, reject })
        if (!flushScheduled) {
          flushScheduled = true
          setImmediate(() => void flush())
        }
      })
    },

    subscribe(subscribeOptions) {
      const subscription = runConsumer(kafka, subscribeOptions, prefix, logger)
      subscriptions.add(subscription)
      subscription.done.finally(() => subscriptions.delete(subscription)).catch(() => {})
      return subscription
    },

    async endOffsets(topic) {
      await connected()
      const offsets = await admin.fetchTopicOffsets(named(topic))
      return new Map(offsets.map((o) => [o.partition, Number(o.high)]))
    },

    async committedOffsets(groupId, topic) {
      await connected()
      const [result] = await admin.fetchOffsets({ groupId: named(groupId), topics: [named(topic)] })
      const offsets = new Map<number, number>()
      for (const p of result?.partitions ?? [])
        if (Number(p.offset) >= 0) offsets.set(p.partition, Number(p.offset))
      return offsets
    },

    async commitOffsets(groupId, topic, committed) {
      await connected()
      await admin.setOffsets({
        groupId: named(groupId),
        topic: named(topic),
        partitions: [...committed].map(([partition, offset]) => ({ partition, offset: String(offset) })),
      })
    },

    async read(topic, partition, fromOffset, maxMessages) {
      await connected()
      const end = (await admin.fetchTopicOffsets(named(topic))).find((o) => o.partition === partition)
      const last = Math.min(Number(end?.high ?? 0), fromOffset + maxMessages) - 1
      if (last < fromOffset) return []
      // kafkajs has no group-less consumer: a throwaway group, removed afterwards.
      const groupId = `sluice-read-${randomUUID()}`
      const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false })
      const messages: LogMessage[] = []
      try {
        await consumer.connect()
        await consumer.subscribe({ topics: [named(topic)], fromBeginning: true })
        await new Promise<void>((resolve, reject) => {
          consumer.on(consumer.events.GROUP_JOIN, () =>
            consumer.seek({ topic: named(topic), partition, offset: String(fromOffset) }),
          )
          consumer
            .run({
              autoCommit: false,
              eachBatch: async ({ batch }) => {
                if (batch.partition !== partition) return
                for (const message of batch.messages) {
                  const offset = Number(message.offset)
                  if (offset >= fromOffset && offset <= last)
                    messages.push(toLogMessage(topic, partition, message))
                }
                if (messages.length > 0 && messages.at(-1)!.offset >= last) resolve()
              },
            })
            .catch(reject)
        })
      } finally {
        await consumer.disconnect().catch(() => {})
        await admin.deleteGroups([groupId]).catch(() => {})
      }
      return messages
    },

    async close() {
      await Promise.all([...subscriptions].map((s) => s.stop()))
      if (pending.length > 0) await flush()
      await Promise.allSettled([producer.disconnect(), admin.disconnect()])
    },
  }
}

/**
 * One try to reach the brokers (connect and read the cluster's metadata), with no retries of
 * kafkajs's own and its logs at debug: sluice's wait at start paces the tries and says what it
 * waits for. A broker that is away is a LogUnavailableError.
 */
export async function reachKafka(brokers: string[], logger?: Logger): Promise<void> {
  const kafka = new Kafka({
    clientId: 'sluice',
    brokers,
    connectionTimeout: 3000,
    requestTimeout: 5000,
    retry: { retries: 0 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => logger?.debug({ namespace: entry.namespace }, `kafka: ${entry.log.message}`),
  })
  const admin = kafka.admin()
  try {
    await admin.connect()
    await admin.describeCluster()
  } catch (error) {
    throw new LogUnavailableError(`Kafka is unavailable: ${(error as Error).message}`, { cause: error })
  } finally {
    await admin.disconnect().catch(() => {})
  }
}

/** Longer than a join may block during a rebalance (the rebalance timeout), so only a hung member trips it. */
const memberStallMs = 45_000

/**
 * A consumer-group member. Each fetched batch is handed over in slices of `maxBatchSize`; a slice
 * whose handler fails is retried (heartbeating) until it succeeds or the partition is taken away,
 * and its offset is committed only once it succeeded — a rebalance can redeliver, never skip.
 */
function runConsumer(
  kafka: Kafka,
  options: SubscribeOptions,
  prefix: string,
  logger: Logger | undefined,
): Subscription {
  let stopped = false
  let current: Consumer | null = null
  let retryTimer: NodeJS.Timeout | undefined
  let resolveDone: () => void = () => {}
  const done = new Promise<void>((resolve) => (resolveDone = resolve))

  // Every failure of a member — kafkajs giving up after its own retries, a start offset that
  // cannot be read, or a member that has stopped showing any sign of life (kafkajs can hang after
  // a broker restart) — is handled the same way: the member is dropped and a fresh one joins,
  // with a growing pause, for as long as the service runs.
  const join = (attempt: number) => {
    if (stopped) return
    let failed = false
    let lastSignOfLife = performance.now()
    const watchdog = setInterval(() => {
      if (stopped) clearInterval(watchdog)
      else if (performance.now() - lastSignOfLife > memberStallMs)
        rejoin(new Error(`the consumer showed no sign of life for ${memberStallMs} ms`))
    }, 5000)
    watchdog.unref()
    const rejoin = (error: unknown) => {
      if (failed || stopped) return
      failed = true
      clearInterval(watchdog)
      const delay = Math.min(500 * 2 ** attempt, 15_000)
      options.onConsumerProblem?.(error)
      logger?.debug(
        { err: error, group: options.groupId, retryInMs: delay },
        'kafka consumer failed; rejoining',
      )
      void consumer.disconnect().catch(() => {})
      retryTimer = setTimeout(() => join(attempt + 1), delay)
    }
    const consumer = createMember(kafka, options, prefix, rejoin)
    current = consumer
    consumer.on(consumer.events.CRASH, ({ payload }) => rejoin(payload.error))
    consumer.on(consumer.events.GROUP_JOIN, () => {
      attempt = 0
      options.onConsumerProblem?.(null)
    })
    for (const event of [
      consumer.events.GROUP_JOIN,
      consumer.events.FETCH_START,
      consumer.events.HEARTBEAT,
      consumer.events.START_BATCH_PROCESS,
    ])
      consumer.on(event, () => {
        lastSignOfLife = performance.now()
      })
    start(consumer, options, prefix, logger).catch(rejoin)
  }
  join(0)

  return {
    done,
    async stop() {
      if (stopped) return done
      stopped = true
      clearTimeout(retryTimer)
      await current?.disconnect().catch(() => {})
      resolveDone()
    },
  }
}

function createMember(
  kafka: Kafka,
  options: SubscribeOptions,
  prefix: string,
  fail: (error: unknown) => void,
): Consumer {
  const consumer = kafka.consumer({
    groupId: `${prefix}${options.groupId}`,
    allowAutoTopicCreation: false,
    sessionTimeout: 15_000,
    rebalanceTimeout: 30_000,
    heartbeatInterval: 1500,
    // A fetch waits at the broker for data this long at most. The default, 5 s, would also hold back a
    // partition that gathers (SubscribeOptions.gather): it is resumed while a fetch without it waits.
    ...(options.gather ? { maxWaitTimeInMs: 100 } : {}),
    // a crashed member is replaced by runConsumer, never restarted in place by kafkajs
    retry: { ...kafkaRetry, restartOnFailure: async () => false },
  })
  consumer.on(consumer.events.GROUP_JOIN, async ({ payload }) => {
    if (!options.startOffset) return
    for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
      for (const partition of partitions) {
        try {
          const offset = await options.startOffset(topic.slice(prefix.length), partition)
          if (offset !== undefined) consumer.seek({ topic, partition, offset: String(offset) })
        } catch (error) {
          // Without its start offset the member could skip or redo work: leave and rejoin.
          fail(error)
          return
        }
      }
    }
  })
  return consumer
}

async function start(
  consumer: Consumer,
  options: SubscribeOptions,
  prefix: string,
  logger: Logger | undefined,
) {
  await consumer.connect()
  await consumer.subscribe({ topics: options.topics.map((t) => `${prefix}${t}`), fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: (payload) => handleBatch(payload, options, consumer, prefix, logger),
  })
}

async function handleBatch(
  payload: EachBatchPayload,
  options: SubscribeOptions,
  consumer: Consumer,
  prefix: string,
  logger: Logger | undefined,
) {
  const { batch, heartbeat, isRunning, isStale, resolveOffset } = payload
  const handedOver = performance.now()
  const topic = batch.topic.slice(prefix.length)
  const all = batch.messages.map((m) => toLogMessage(topic, batch.partition, m))
  for (let start = 0; start < all.length; start += options.maxBatchSize) {
    const slice: LogBatch = {
      topic,
      partition: batch.partition,
      messages: all.slice(start, start + options.maxBatchSize),
    }
    for (let attempt = 1; ; attempt++) {
      if (!isRunning() || isStale()) return
      try {
        await options.eachBatch(slice)
        break
      } catch (error) {
        const delay = Math.min(100 * 2 ** (attempt - 1), 5000)
        // the handler's owner reports failures to the operator; this only paces the next attempt
        logger?.debug(
          { err: error, group: options.groupId, topic: batch.topic, partition: batch.partition, attempt },
          'batch failed; it will be handed over again',
        )
        await heartbeat().catch(() => {})
        await sleep(delay)
      }
    }
    const last = slice.messages.at(-1)!.offset
    resolveOffset(String(last))
    await consumer.commitOffsets([
      { topic: batch.topic, partition: batch.partition, offset: String(last + 1) },
    ])
    await heartbeat()
  }
  // a busy partition gathers (SubscribeOptions.gather): it is left out of the fetches for a while,
  // the others go on
  const gathering = handedOver + gatheringMs(all.length, options) - performance.now()
  if (gathering > 0 && isRunning() && !isStale()) {
    const partition = [{ topic: batch.topic, partitions: [batch.partition] }]
    consumer.pause(partition)
    setTimeout(() => {
      // a member stopped or replaced meanwhile has no group to resume in (kafkajs throws then)
      try {
        consumer.resume(partition)
      } catch {}
    }, gathering).unref()
  }
}

function toLogMessage(topic: string, partition: number, message: KafkaMessage): LogMessage {
  const headers: Record<string, string> = {}
  for (const [key, value] of Object.entries(message.headers ?? {}))
    if (value !== undefined) headers[key] = String(value)
  const result: LogMessage = {
    topic,
    partition,
    offset: Number(message.offset),
    timestamp: Number(message.timestamp),
    key: message.key === null ? null : message.key.toString('utf8'),
    value: message.value === null ? '' : message.value.toString('utf8'),
  }
  if (Object.keys(headers).length > 0) result.headers = headers
  return result
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}
