import type { ClickHouse } from '../../ports/clickhouse.ts'
import { type ProjectedTable, tableLayouts } from '../../schema/clickhouse/migrations.ts'

/** Empties every table the projector fills, so a replay rebuilds them from facts. */
export async function resetClickHouseProjection(clickhouse: ClickHouse): Promise<void> {
  for (const table of Object.keys(tableLayouts) as ProjectedTable[])
    await clickhouse.command(`TRUNCATE TABLE IF EXISTS ${table}`)
}
