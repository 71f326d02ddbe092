// No ClickHouse here (open-backends.ts opens it): the capture thread opens the log through this
// module and must not load chDB, whose native module, unloaded when the thread ends, takes the
// process's chDB down with it — an insert in flight then never returns.
import { join } from 'node:path'
import type { Log, TopicSpec } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'
import { factTopics, Topics } from '../../schema/topics.ts'
import { createEmbeddedLog } from '../log/embedded/embedded-log.ts'
import { createKafkaLog } from '../log/kafka/kafka-log.ts'
import type { PostgresConfig } from '../postgres/connect.ts'
import type { SluiceConfig } from './config.ts'

/** Where the embedded backends keep their files inside the data dir. */
export const embeddedPaths = (dataDir: string) => ({
  postgres: join(dataDir, 'postgres'),
  clickhouse: join(dataDir, 'clickhouse'),
  log: join(dataDir, 'log'),
})

export function postgresConfig(config: SluiceConfig): PostgresConfig {
  return config.postgresUrl === null
    ? { kind: 'pglite', dataDir: embeddedPaths(config.dataDir).postgres }
    : { kind: 'pg', url: config.postgresUrl }
}

/**
 * @param topicsWrittenElsewhere topics another thread of the process appends to (the embedded log
 * has one writer per topic; Kafka needs no such care)
 */
export async function openLog(
  config: SluiceConfig,
  logger: Logger,
  topicsWrittenElsewhere: readonly string[] = [],
): Promise<Log> {
  if (config.kafkaBrokers === null)
    return createEmbeddedLog({
      path: embeddedPaths(config.dataDir).log,
      logger,
      topicsWrittenElsewhere,
      // capture's commits: one write and one flush in place each (segment-topic.ts)
      segmentTopics: [Topics.captureRequests],
      retentionMs: config.logRetentionHours * 60 * 60 * 1000,
    })
  return createKafkaLog({
    brokers: config.kafkaBrokers,
    clientId: 'sluice',
    logger,
    prefix: config.kafkaPrefix,
  })
}

/** Every topic sluice uses (schema/topics.ts); the command log is kept forever so it can be replayed. */
export function topicSpecs(config: SluiceConfig): TopicSpec[] {
  return [
    // keyed by token, split within days: what is kept for ever is what they are split into
    { name: Topics.captureRequests, partitions: config.partitions, retention: 'default' },
    { name: Topics.commands, partitions: config.partitions, retention: 'forever' },
    ...factTopics.map((name) => ({ name, partitions: 1, retention: 'default' as const })),
    { name: Topics.deadLetters, partitions: 1, retention: 'forever' },
  ]
}

/** Which backend serves each part, by kind only (no addresses or credentials). */
export function describeBackends(config: SluiceConfig): {
  log: string
  postgres: string
  clickhouse: string
} {
  return {
    log: config.kafkaBrokers === null ? 'embedded' : 'kafka',
    postgres: config.postgresUrl === null ? 'pglite' : 'postgresql',
    clickhouse: config.clickhouseUrl === null ? 'chdb' : 'clickhouse',
  }
}
