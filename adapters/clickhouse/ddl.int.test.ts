import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClickHouse } from '../../ports/clickhouse.ts'
import { createClickHouse } from './client.ts'
import { clickhouseDdl } from './ddl.ts'

const statementsOf = (ddl: string) =>
  ddl
    .split(/;\n/)
    .map((s) => s.trim().replace(/;$/, ''))
    .filter(Boolean)

/** chDB is the ClickHouse engine in-process: it runs the server DDL and parses the cluster and Kafka variants. */
describe('sluice clickhouse ddl', () => {
  let clickhouse: ClickHouse
  beforeAll(() => {
    clickhouse = createClickHouse({
      kind: 'chdb',
      path: join(mkdtempSync(join(tmpdir(), 'sluice-ddl-')), 'clickhouse'),
    })
  })
  afterAll(async () => {
    await clickhouse.close()
  })

  it('creates every table on a single server, and again harmlessly', async () => {
    for (let i = 0; i < 2; i++)
      for (const statement of statementsOf(clickhouseDdl())) await clickhouse.command(statement)
    const tables = await clickhouse.query<{ name: string }>(
      'SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name',
    )
    expect(tables.map((t) => t.name)).toEqual(
      expect.arrayContaining([
        'events',
        'groups',
        'ingestion_warnings',
        'person',
        'person_distinct_id2',
        'person_merges',
      ]),
    )
  })

  it('writes cluster DDL: replicated person tables, events sharded behind a Distributed table, Kafka engine feeds', async () => {
    const ddl = clickhouseDdl({ cluster: 'posthog', kafkaBrokers: 'kafka-1:9092,kafka-2:9092' })
    const statements = statementsOf(ddl)
    for (const statement of statements) {
      const ast = await clickhouse.query<Record<string, string>>(`EXPLAIN AST ${statement}`)
      expect(ast.length, statement.slice(0, 80)).toBeGreaterThan(0)
    }
    expect(ddl).toContain(
      "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/noshard/sluice.person', '{replica}', version)",
    )
    expect(ddl).toContain(
      "ENGINE = Distributed('posthog', currentDatabase(), sharded_events, sipHash64(distinct_id))",
    )
    expect(ddl).toContain(
      "ENGINE = Kafka('kafka-1:9092,kafka-2:9092', 'clickhouse_person', 'clickhouse_person', 'JSONEachRow')",
    )
    expect(ddl).toMatch(
      /CREATE MATERIALIZED VIEW IF NOT EXISTS person_mv ON CLUSTER posthog TO person\nAS SELECT id, created_at, team_id, properties, is_identified, is_deleted, version, _timestamp, _offset, _partition FROM kafka_person/,
    )
  })

  it('Kafka engine tables and views also run on a single server', async () => {
    for (const statement of statementsOf(clickhouseDdl({ kafkaBrokers: '127.0.0.1:1' })))
      await clickhouse.command(statement)
    const tables = await clickhouse.query<{ name: string; engine: string }>(
      "SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND name LIKE 'kafka_%' ORDER BY name",
    )
    expect(tables.map((t) => t.engine)).toEqual(Array(6).fill('Kafka'))
  })
})
