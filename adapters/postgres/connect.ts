import { PGlite } from '@electric-sql/pglite'
import { Kysely, PGliteDialect, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { PostgresTables } from '../../schema/postgres/tables.ts'
import { migratePostgres } from './migrate.ts'
import { withTypedFailures } from './typed-failures.ts'

export type PostgresConfig =
  | { kind: 'pglite'; dataDir: string | null }
  | { kind: 'pg'; url: string; poolSize?: number }

export type Db = Kysely<PostgresTables>

/** Opens the projection database (PGlite in the data dir, or a PostgreSQL server) and migrates it. */
export async function openPostgres(config: PostgresConfig): Promise<Db> {
  const db = new Kysely<PostgresTables>({ dialect: withTypedFailures(dialectFor(config)) })
  try {
    await migratePostgres(db)
  } catch (error) {
    await db.destroy()
    throw error
  }
  return db
}

function dialectFor(config: PostgresConfig) {
  if (config.kind === 'pglite') {
    return new PGliteDialect({ pglite: config.dataDir === null ? new PGlite() : new PGlite(config.dataDir) })
  }
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolSize ?? 10,
    types: { getTypeParser },
  })
  // A pooled client that errors while idle (server restart) must not crash the process.
  pool.on('error', () => {})
  return new PostgresDialect({ pool })
}

// PGlite returns bigint columns as numbers; make pg do the same so both adapters give identical
// rows (sluice's bigints — versions, offsets — stay far below 2^53).
function getTypeParser(oid: number, format?: 'text' | 'binary') {
  if (oid === pg.types.builtins.INT8 && format !== 'binary') return (value: string) => Number(value)
  return pg.types.getTypeParser(oid, format)
}

export function describePostgres(config: PostgresConfig): string {
  if (config.kind === 'pglite')
    return config.dataDir === null ? 'PGlite (in memory)' : `PGlite at ${config.dataDir}`
  const url = new URL(config.url)
  return `PostgreSQL at ${url.host}${url.pathname}`
}
