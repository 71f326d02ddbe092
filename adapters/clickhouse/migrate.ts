import type { ClickHouse } from '../../ports/clickhouse.ts'
import { NewerSchemaError } from '../../ports/failures.ts'
import { clickhouseMigrations } from '../../schema/clickhouse/migrations.ts'

/** Applies missing ClickHouse migrations in order and records each one; refuses a newer release's schema. */
export async function migrateClickHouse(clickhouse: ClickHouse): Promise<number[]> {
  await clickhouse.command(`CREATE TABLE IF NOT EXISTS sluice_migrations (
    version UInt32, name String, applied_at DateTime DEFAULT now()
  ) ENGINE = ReplacingMergeTree ORDER BY version`)
  const applied = new Set(
    (await clickhouse.query<{ version: number }>('SELECT version FROM sluice_migrations')).map((row) =>
      Number(row.version),
    ),
  )
  const known = Math.max(0, ...clickhouseMigrations.map((m) => m.version))
  const newest = Math.max(0, ...applied)
  if (newest > known) throw new NewerSchemaError('ClickHouse', newest, known)
  const newlyApplied: number[] = []
  for (const migration of clickhouseMigrations) {
    if (applied.has(migration.version)) continue
    for (const statement of migration.statements) await clickhouse.command(statement)
    await clickhouse.insert('sluice_migrations', [{ version: migration.version, name: migration.name }])
    newlyApplied.push(migration.version)
  }
  return newlyApplied
}
