import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClickHouse } from '../../adapters/clickhouse/client.ts'
import { migrateClickHouse } from '../../adapters/clickhouse/migrate.ts'
import { createEmbeddedLog } from '../../adapters/log/embedded/embedded-log.ts'
import { type Db, openPostgres } from '../../adapters/postgres/connect.ts'
import { factRecords } from '../../commands/ingest/fact-records.ts'
import type { ClickHouse } from '../../ports/clickhouse.ts'
import type { Log } from '../../ports/log.ts'
import type { Fact } from '../../schema/facts.ts'
import { Topics } from '../../schema/topics.ts'
import { startClickHouseProjector } from '../clickhouse/projector.ts'
import { postgresIdentityStore } from '../postgres/identity-store.ts'
import { verifyProjections } from './verify-projections.ts'

const uuid = '0190f0a0-0000-5000-8000-0000000000aa'
const facts: Fact[] = [
  {
    type: 'person_created',
    teamId: 1,
    uuid,
    createdAt: '2026-01-01T00:00:00.123Z',
    properties: { b: 1, a: { z: 1, y: 2 } },
    isIdentified: false,
    version: 0,
  },
  { type: 'distinct_id_assigned', teamId: 1, distinctId: 'd1', personUuid: uuid, version: 0 },
  {
    type: 'person_updated',
    teamId: 1,
    uuid,
    createdAt: '2026-01-01T00:00:00.123Z',
    properties: { b: 2, a: { z: 1, y: 2 } },
    isIdentified: true,
    version: 1,
  },
  {
    type: 'group_updated',
    teamId: 1,
    groupTypeIndex: 0,
    groupKey: 'acme',
    properties: { n: 1 },
    createdAt: '2026-01-01T00:00:00.000Z',
    version: 1,
  },
]

describe('sluice verify: ClickHouse against Postgres', () => {
  let db: Db
  let log: Log
  let clickhouse: ClickHouse

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-verify-'))
    db = await openPostgres({ kind: 'pglite', dataDir: null })
    log = createEmbeddedLog({ path: join(dir, 'log') })
    clickhouse = createClickHouse({ kind: 'chdb', path: join(dir, 'clickhouse') })
    await migrateClickHouse(clickhouse)
    await log.ensureTopics(
      Object.values(Topics).map((name) => ({ name, partitions: 1, retention: 'forever' as const })),
    )
    await postgresIdentityStore(db).transaction((tx) => tx.applyFacts(facts))
    for (const record of factRecords(facts)) await log.append(record.topic, [record])
    const projector = startClickHouseProjector({ log, clickhouse })
    for (let i = 0; i < 200; i++) {
      const rows = await clickhouse.query<{ n: string }>('SELECT count() AS n FROM person')
      if (Number(rows[0]?.n) >= 2) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
    await projector.stop()
  })
  afterAll(async () => {
    await log.close()
    await clickhouse.close()
    await db.destroy()
  })

  it('agrees when every fact was projected, whatever the key order of properties', async () => {
    const report = await verifyProjections(db, clickhouse)
    expect(report).toMatchObject({ persons: 1, distinctIds: 1, groups: 1, differences: [] })
  })

  it('lists what differs, is missing or exists only in ClickHouse', async () => {
    await clickhouse.insert('person', [
      {
        id: uuid,
        created_at: '2026-01-01 00:00:00.123',
        properties: '{"b":3}',
        team_id: 1,
        is_identified: 1,
        is_deleted: 0,
        version: 7,
      },
    ])
    await clickhouse.insert('person_distinct_id2', [
      { team_id: 1, distinct_id: 'ghost', person_id: uuid, is_deleted: 0, version: 0 },
    ])
    await db
      .insertInto('groups')
      .values({
        team_id: 1,
        group_type_index: 1,
        group_key: 'pg-only',
        group_properties: '{}',
        created_at: '2026-01-01T00:00:00Z',
        version: 1,
      })
      .execute()
    const report = await verifyProjections(db, clickhouse)
    expect(report.differences.map((d) => [d.kind, d.key, d.problem]).sort()).toEqual([
      ['distinct_id', '1/ghost', 'only in ClickHouse'],
      ['group', '1/1/pg-only', 'missing in ClickHouse'],
      ['person', `1/${uuid}`, 'differs'],
    ])
  })
})
