import type { ClickHouse } from '../../ports/clickhouse.ts'
import type { Log } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'
import { type Db, openPostgres } from '../postgres/connect.ts'
import { openClickHouse, openLog, postgresConfig, topicSpecs } from './backends.ts'
import { type SluiceConfig, usesDataDir } from './config.ts'
import { type DataDirLock, lockDataDir } from './data-dir-lock.ts'

export interface Backends {
  lock: DataDirLock | null
  db: Db
  log: Log
  clickhouse: ClickHouse | null
  /** Closes what was opened, in reverse order, and releases the data dir. */
  close(): Promise<void>
}

export interface BackendNeeds {
  /** Named in the message another process gets while this one holds the data dir. */
  command: string
  logger: Logger
  clickhouse?: boolean
}

/**
 * The one way a command opens what it needs: the data dir's lock first (when anything lives in
 * it), then Postgres (migrated), the log (topics ensured) and ClickHouse if asked. Whatever fails
 * half way, what was opened is closed and the lock released.
 */
export async function openBackends(config: SluiceConfig, needs: BackendNeeds): Promise<Backends> {
  const closers: (() => Promise<void> | void)[] = []
  const close = async () => {
    for (const closeOne of closers.reverse()) {
      try {
        await closeOne()
      } catch (error) {
        needs.logger.warn({ error: (error as Error).message }, 'closing a backend failed')
      }
    }
    closers.length = 0
  }
  try {
    const lock = usesDataDir(config) ? lockDataDir(config.dataDir, needs.command) : null
    if (lock) closers.push(() => lock.release())
    const db = await openPostgres(postgresConfig(config))
    closers.push(() => db.destroy())
    const log = await openLog(config, needs.logger)
    closers.push(() => log.close())
    await log.ensureTopics(topicSpecs(config))
    let clickhouse: ClickHouse | null = null
    if (needs.clickhouse) {
      const opened = await openClickHouse(config)
      clickhouse = opened
      closers.push(() => opened.close())
    }
    return { lock, db, log, clickhouse, close }
  } catch (error) {
    await close()
    throw error
  }
}
