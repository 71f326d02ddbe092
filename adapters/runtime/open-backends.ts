import type { ClickHouse } from '../../ports/clickhouse.ts'
import type { Log } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'
import { sqlStateOf } from '../../projections/postgres/database-errors.ts'
import { createClickHouse, reachClickHouse } from '../clickhouse/client.ts'
import { migrateClickHouse } from '../clickhouse/migrate.ts'
import { reachKafka } from '../log/kafka/kafka-log.ts'
import { type Db, describePostgres, openPostgres, type PostgresConfig } from '../postgres/connect.ts'
import { createDatabase, reachPostgres } from '../postgres/server.ts'
import { embeddedPaths, openLog, postgresConfig, topicSpecs } from './backends.ts'
import type { SluiceConfig } from './config.ts'
import { asDataDirError, prepareDataDir } from './data-dir.ts'
import { type DataDirLock, lockDataDir } from './data-dir-lock.ts'
import { ShutdownSteps } from './shutdown-steps.ts'
import { InterruptedError, waitForDependency } from './wait-for-dependency.ts'

/** What a command opens besides Postgres, which every command needs. */
export interface BackendNeeds {
  /** The log, with its topics ensured. */
  log: boolean
  /** ClickHouse, migrated. */
  clickhouse: boolean
}

export interface OpenOptions {
  /** Named in the message another process gets while this one holds the data dir. */
  command: string
  logger: Logger
  /** `start` and `init` make a data dir that is missing; the other commands refuse one. */
  createDataDir?: boolean
  /** `init` creates the PostgreSQL database the URL names when it is missing and the server lets it. */
  createDatabase?: boolean
  /** Ctrl-C: stops waiting for a server that is away. */
  signal?: AbortSignal
  /** Topics of the log another thread of the process appends to (`sluice start`'s capture thread). */
  topicsWrittenElsewhere?: readonly string[]
}

type Opened<Needed extends boolean, T> = Needed extends true ? T : Needed extends false ? null : T | null

export interface Backends<N extends BackendNeeds = BackendNeeds> {
  lock: DataDirLock | null
  postgres: PostgresConfig
  db: Db
  log: Opened<N['log'], Log>
  clickhouse: Opened<N['clickhouse'], ClickHouse>
  /** Whether this open created the PostgreSQL database (`init`). */
  createdDatabase: boolean
  /** What `close` will wait for, in order. */
  pending(): string[]
  /** Closes what was opened, in reverse order, and releases the data dir. */
  close(stillWaiting?: (what: string) => void): Promise<void>
}

export type EmbeddedPart = 'postgres' | 'log' | 'clickhouse'

/** The backends these needs open inside the data dir: a command needing any of them holds the data dir. */
export function embeddedParts(config: SluiceConfig, needs: BackendNeeds): EmbeddedPart[] {
  const parts: EmbeddedPart[] = []
  if (config.postgresUrl === null) parts.push('postgres')
  if (needs.log && config.kafkaBrokers === null) parts.push('log')
  if (needs.clickhouse && config.clickhouseUrl === null) parts.push('clickhouse')
  return parts
}

/**
 * The one way a command opens what it needs: the data dir checked and locked (when anything lives
 * in it), then Postgres (migrated), the log (topics ensured) and ClickHouse if asked. A server that
 * is away is waited for up to `config.waitSeconds`, one line per try. Whatever fails
 * half way, what was opened is closed and the lock released.
 */
export async function openBackends<const N extends BackendNeeds>(
  config: SluiceConfig,
  needs: N,
  options: OpenOptions,
): Promise<Backends<N>> {
  const { logger, signal } = options
  const steps = new ShutdownSteps()
  const wait = (dependency: 'postgres' | 'log' | 'clickhouse', what: string, attempt: () => Promise<void>) =>
    waitForDependency({ dependency, what, attempt, waitSeconds: config.waitSeconds, logger, signal })
  const interruptible = () => {
    if (signal?.aborted) throw new InterruptedError('interrupted while opening the backends')
  }
  try {
    let lock: DataDirLock | null = null
    if (embeddedParts(config, needs).length > 0) {
      prepareDataDir(config.dataDir, options.createDataDir ?? false)
      const held = lockDataDir(config.dataDir, options.command)
      lock = held
      steps.add('the data dir lock', () => held.release())
    }

    // The servers first, before the embedded backends take seconds to open: one that is away or
    // refuses sluice is said at once.
    const postgres = postgresConfig(config)
    let createdDatabase = false
    if (postgres.kind === 'pg') {
      const { url } = postgres
      await wait('postgres', describePostgres(postgres), async () => {
        try {
          await reachPostgres(url)
        } catch (error) {
          if (!(options.createDatabase && sqlStateOf(error) === '3D000')) throw error
          createdDatabase = await createDatabase(url)
        }
      })
    }
    const brokers = needs.log ? config.kafkaBrokers : null
    if (brokers !== null)
      await wait('log', `Kafka at ${brokers.join(',')}`, () => reachKafka(brokers, logger))
    const clickhouseUrl = needs.clickhouse ? config.clickhouseUrl : null
    if (clickhouseUrl !== null)
      await wait('clickhouse', `ClickHouse at ${new URL(clickhouseUrl).host}`, () =>
        reachClickHouse(clickhouseUrl),
      )

    interruptible()
    const db = await openPostgres(postgres).catch((error: unknown) => {
      throw postgres.kind === 'pglite' ? asDataDirError(config.dataDir, error) : error
    })
    steps.add(postgres.kind === 'pglite' ? 'PGlite' : 'PostgreSQL', () => db.destroy())

    let log: Log | null = null
    if (needs.log) {
      interruptible()
      const opened = await openLog(config, logger, options.topicsWrittenElsewhere).catch((error: unknown) => {
        throw asDataDirError(config.dataDir, error)
      })
      log = opened
      steps.add(brokers === null ? 'the embedded log' : 'Kafka', () => opened.close())
      await opened.ensureTopics(topicSpecs(config))
    }

    let clickhouse: ClickHouse | null = null
    if (needs.clickhouse) {
      interruptible()
      const opened = await openClickHouse(config)
      clickhouse = opened
      steps.add(clickhouseUrl === null ? 'chDB' : 'ClickHouse', () => opened.close())
    }

    const backends: Backends = {
      lock,
      postgres,
      db,
      log,
      clickhouse,
      createdDatabase,
      pending: () => steps.pending(),
      close: (stillWaiting) => steps.closeAll(logger, stillWaiting),
    }
    // What was opened follows `needs` (log and ClickHouse exactly when asked for).
    return backends as Backends<N>
  } catch (error) {
    await steps.closeAll(logger)
    throw error
  }
}

/** Opens, works, and closes whatever happens. */
export async function withBackends<const N extends BackendNeeds, T>(
  config: SluiceConfig,
  needs: N,
  options: OpenOptions,
  work: (backends: Backends<N>) => Promise<T>,
): Promise<T> {
  const backends = await openBackends(config, needs, options)
  try {
    return await work(backends)
  } finally {
    await backends.close()
  }
}

async function openClickHouse(config: SluiceConfig): Promise<ClickHouse> {
  const clickhouse = createClickHouse(
    config.clickhouseUrl === null
      ? { kind: 'chdb', path: embeddedPaths(config.dataDir).clickhouse }
      : { kind: 'http', url: config.clickhouseUrl },
  )
  try {
    await migrateClickHouse(clickhouse)
  } catch (error) {
    await clickhouse.close()
    throw error
  }
  return clickhouse
}
