import { resolve } from 'node:path'

export const allRoles = ['capture', 'ingest', 'project', 'api'] as const
export type Role = (typeof allRoles)[number]

export interface SluiceConfig {
  dataDir: string
  host: string
  port: number
  roles: Role[]
  /** Kafka bootstrap servers; null → the embedded log in the data dir. */
  kafkaBrokers: string[] | null
  /** PostgreSQL URL; null → PGlite in the data dir. */
  postgresUrl: string | null
  /** ClickHouse HTTP URL; null → chDB in the data dir. */
  clickhouseUrl: string | null
  /** Partitions of the command topic when sluice creates it. */
  partitions: number
  /** Prefix of every Kafka topic and consumer group, so several installations can share a cluster. */
  kafkaPrefix: string
}

export interface ConfigInput {
  dataDir?: string
  host?: string
  port?: string | number
  roles?: string
  kafka?: string
  postgres?: string
  clickhouse?: string
  partitions?: string | number
  kafkaPrefix?: string
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

/** Command-line options win over SLUICE_* environment variables, which win over the defaults. */
export function resolveConfig(input: ConfigInput, env: NodeJS.ProcessEnv = process.env): SluiceConfig {
  const port = Number(input.port ?? env.SLUICE_PORT ?? 8000)
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError(`--port must be 0–65535, got ${input.port}`)
  const partitions = Number(input.partitions ?? env.SLUICE_PARTITIONS ?? 4)
  if (!Number.isInteger(partitions) || partitions < 1)
    throw new ConfigError(`partitions must be a positive integer, got ${partitions}`)
  const kafka = input.kafka ?? env.SLUICE_KAFKA_BROKERS
  return {
    dataDir: resolve(input.dataDir ?? env.SLUICE_DATA_DIR ?? '.sluice'),
    host: input.host ?? env.SLUICE_HOST ?? '127.0.0.1',
    port,
    roles: parseRoles(input.roles ?? env.SLUICE_ROLES ?? 'all'),
    kafkaBrokers: kafka
      ? kafka
          .split(',')
          .map((b) => b.trim())
          .filter(Boolean)
      : null,
    postgresUrl: input.postgres ?? env.SLUICE_DATABASE_URL ?? null,
    clickhouseUrl: input.clickhouse ?? env.SLUICE_CLICKHOUSE_URL ?? null,
    partitions,
    kafkaPrefix: input.kafkaPrefix ?? env.SLUICE_KAFKA_PREFIX ?? '',
  }
}

function parseRoles(text: string): Role[] {
  if (text === 'all') return [...allRoles]
  const roles = text.split(',').map((r) => r.trim())
  for (const role of roles) {
    if (!(allRoles as readonly string[]).includes(role)) {
      throw new ConfigError(`unknown role "${role}"; roles are ${allRoles.join(', ')} or all`)
    }
  }
  return [...new Set(roles)] as Role[]
}

/** Whether anything of this configuration lives in the data dir (and so needs its lock). */
export function usesDataDir(config: SluiceConfig): boolean {
  return (
    config.kafkaBrokers === null ||
    config.postgresUrl === null ||
    (needsClickHouse(config) && config.clickhouseUrl === null)
  )
}

/** ClickHouse serves the project role (writes) and the api role (reads); capture and ingest never touch it. */
export function needsClickHouse(config: SluiceConfig): boolean {
  return config.roles.includes('project') || config.roles.includes('api')
}
