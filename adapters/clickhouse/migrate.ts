import type { ClickHouse } from '../../ports/clickhouse.ts'
import { clickhouseMigrations } from '../../schema/clickhouse/migrations.ts'

/** Applies missing ClickHouse migrations in order and records each one. */
export async function migrateClickHouse(clickhouse: ClickHouse): Promise<number[]> {
  await clickhouse.command(`CREATE TABLE IF NOT EXISTS sluice_migrations (
    version UInt32, name String, applied_at DateTime DEFAULT now()
  ) ENGINE = ReplacingMergeTree ORDER BY version`)
  const applied = new Set(
    (await clickhouse.query<{ version: number }>('SELECT version FROM sluice_migrations')).map((row) =>
      Number(row.version),
    ),
  )
  const newlyApplied: number[] = []
  for (const migration of clickhouseMigrations) {
    if (applied.has(migration.version)) continue
    for (const statement of migration.statements) await clickhouse.command(statement)
    await clickhouse.insert('sluice_migrations', [{ version: migration.version, name: migration.name }])
    newlyApplied.push(migration.version)
  }
  return newlyApplied
}
