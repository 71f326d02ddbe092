import { type Kysely, sql } from 'kysely'
import { NewerSchemaError } from '../../ports/failures.ts'
import { type Migration, postgresMigrations } from '../../schema/postgres/migrations.ts'
import type { PostgresTables } from '../../schema/postgres/tables.ts'

// Any constant works; it only has to be the same for every sluice process on a database.
const migrationLockId = 7_240_531

/**
 * Applies the migrations that are missing, in one transaction, one process at a time. `migrations`
 * is the release's list; a test passes an earlier prefix of it to build a database as an older
 * release left it. A database a newer release migrated is refused (NewerSchemaError) untouched.
 */
export async function migratePostgres(
  db: Kysely<PostgresTables>,
  migrations: readonly Migration[] = postgresMigrations,
): Promise<number[]> {
  return db.transaction().execute(async (tx) => {
    await sql`SELECT pg_advisory_xact_lock(${migrationLockId})`.execute(tx)
    await sql`CREATE TABLE IF NOT EXISTS sluice_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now()
    )`.execute(tx)
    const applied = new Set(
      (await tx.selectFrom('sluice_migrations').select('version').execute()).map((r) => r.version),
    )
    const known = Math.max(0, ...migrations.map((m) => m.version))
    const newest = Math.max(0, ...applied)
    if (newest > known) throw new NewerSchemaError('PostgreSQL', newest, known)
    const newlyApplied: number[] = []
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue
      for (const statement of migration.statements) await sql.raw(statement).execute(tx)
      await tx
        .insertInto('sluice_migrations')
        .values({ version: migration.version, name: migration.name })
        .execute()
      newlyApplied.push(migration.version)
    }
    return newlyApplied
  })
}
