import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migratePostgres } from '../../adapters/postgres/migrate.ts'
import { IdentityStoreConflictError } from '../../ports/identity-store.ts'
import { postgresIdentityStore } from '../../projections/postgres/identity-store.ts'
import { encodeOutbox } from '../../projections/postgres/outbox-encoding.ts'
import { personalApiKeyDigest, postgresProjectStore } from '../../projections/postgres/project-store.ts'
import type { Fact } from '../../schema/facts.ts'
import { postgresMigrations } from '../../schema/postgres/migrations.ts'
import type { OpenDatabase, OpenedDatabase } from './postgres-adapters.ts'

/** What every Postgres adapter (PGlite, PostgreSQL through pg) must do with the same kysely code. */
export function postgresContract(name: string, open: OpenDatabase) {
  describe(`Postgres projection on ${name}`, () => {
    let opened: OpenedDatabase | null = null
    const db = () => {
      if (opened === null) throw new Error('database not opened')
      return opened.db
    }
    beforeAll(async () => {
      opened = await open()
    })
    afterAll(async () => {
      await opened?.close()
    })
    const test = (title: string, body: () => Promise<void>) =>
      it(title, async (ctx) => {
        if (opened === null) return ctx.skip()
        await body()
      })

    test('migrations are recorded and applying them again changes nothing', async () => {
      expect(await migratePostgres(db())).toEqual([])
      const versions = await db().selectFrom('sluice_migrations').select('version').execute()
      expect(versions.map((v) => v.version)).toEqual(postgresMigrations.map((m) => m.version))
    })

    test('projects are found by token and by personal API key, and keys see only their project', async () => {
      const projects = postgresProjectStore(db())
      const a = await projects.createProject({
        name: 'a',
        apiToken: 'phc_contract_a',
        personalApiKey: 'phx_contract_a',
      })
      const b = await projects.createProject({
        name: 'b',
        apiToken: 'phc_contract_b',
        personalApiKey: 'phx_contract_b',
      })
      expect((await projects.findByToken('phc_contract_a'))?.id).toBe(a.project.id)
      expect((await projects.findByPersonalApiKey('phx_contract_b'))?.id).toBe(b.project.id)
      expect(await projects.findByToken('phc_missing')).toBeUndefined()
      expect((await projects.update(a.project.id, { anonymizeIps: true }))?.anonymizeIps).toBe(true)
      expect((await projects.get(a.project.id))?.anonymizeIps).toBe(true)
      expect((await projects.list()).map((p) => p.id)).toEqual(
        expect.arrayContaining([a.project.id, b.project.id]),
      )
    })

    test('personal API keys are kept as digests only, and more can be added to a project', async () => {
      const projects = postgresProjectStore(db())
      const { project } = await projects.createProject({
        name: 'keys',
        apiToken: 'phc_contract_keys',
        personalApiKey: 'phx_contract_keys_first',
      })
      const added = await projects.addPersonalApiKey(project.id, 'phx_contract_keys_second')
      expect(added).toEqual({ project, personalApiKey: 'phx_contract_keys_second' })
      expect(await projects.addPersonalApiKey(999_999, 'phx_contract_keys_nowhere')).toBeUndefined()
      for (const key of ['phx_contract_keys_first', 'phx_contract_keys_second'])
        expect((await projects.findByPersonalApiKey(key))?.id).toBe(project.id)
      expect(await projects.findByPersonalApiKey('phx_contract_keys_nowhere')).toBeUndefined()

      const stored = await sql<{ row: string }>`SELECT k::text AS row FROM personal_api_keys k`.execute(db())
      expect(stored.rows.length).toBeGreaterThanOrEqual(2)
      for (const { row } of stored.rows) expect(row).not.toContain('phx_')
      expect(stored.rows.map(({ row }) => row).join()).toContain(
        personalApiKeyDigest('phx_contract_keys_second'),
      )
      // the database refuses anything but a digest, whatever the code above it does
      await expect(
        db()
          .insertInto('personal_api_keys')
          .values({ key_sha256: 'phx_plain', project_id: project.id })
          .execute(),
      ).rejects.toThrow()
    })

    test('a merge moves every distinct id, removes the absorbed person and is audited', async () => {
      const store = postgresIdentityStore(db())
      const kept = '00000000-0000-5000-8000-000000000001'
      const other = '00000000-0000-5000-8000-000000000002'
      const created: Fact[] = [
        person('person_created', kept, 0, { plan: 'free' }),
        { type: 'distinct_id_assigned', teamId: 7, distinctId: 'user-1', personUuid: kept, version: 0 },
        person('person_created', other, 0, { plan: 'pro', from: 'anon' }),
        { type: 'distinct_id_assigned', teamId: 7, distinctId: 'anon-1', personUuid: other, version: 0 },
        { type: 'distinct_id_assigned', teamId: 7, distinctId: 'anon-2', personUuid: other, version: 0 },
      ]
      await store.transaction((tx) => tx.applyFacts(created))
      const merged: Fact[] = [
        person('person_updated', kept, 1, { plan: 'free', from: 'anon' }, true),
        { type: 'distinct_id_assigned', teamId: 7, distinctId: 'anon-1', personUuid: kept, version: 1 },
        { type: 'distinct_id_assigned', teamId: 7, distinctId: 'anon-2', personUuid: kept, version: 1 },
        { type: 'person_deleted', teamId: 7, uuid: other, version: 100 },
        {
          type: 'persons_merged',
          teamId: 7,
          keptPersonUuid: kept,
          mergedPersonUuid: other,
          distinctIds: ['anon-1', 'anon-2'],
          eventUuid: '0190f0a0-0000-7000-8000-000000000009',
          event: '$identify',
          timestamp: '2026-01-02T03:04:05.006Z',
        },
      ]
      const ids = ['user-1', 'anon-1', 'anon-2'].map((distinctId) => ({ teamId: 7, distinctId }))
      await store.transaction(async (tx) => {
        await tx.load({ distinctIds: ids, groupTypeTeams: [], groups: [] })
        await tx.applyFacts(merged)
      })

      const load = (mayMerge: boolean) =>
        store.transaction((tx) =>
          tx.load({
            distinctIds: [{ teamId: 7, distinctId: 'anon-2', mayMerge }],
            groupTypeTeams: [],
            groups: [],
          }),
        )
      // a person no merge can absorb comes with the ids that were asked for, which is all ingest reads
      const [plainPerson] = (await load(false)).persons
      expect(plainPerson?.distinctIds).toEqual([{ distinctId: 'anon-2', version: 1 }])
      const loaded = await load(true)
      expect(loaded.persons).toHaveLength(1)
      const [loadedPerson] = loaded.persons
      expect(loadedPerson).toMatchObject({
        uuid: kept,
        version: 1,
        isIdentified: true,
        properties: { plan: 'free', from: 'anon' },
        createdAt: '2026-01-01T00:00:00.000Z',
      })
      expect(loadedPerson?.distinctIds.map((d) => [d.distinctId, d.version])).toEqual([
        ['anon-1', 1],
        ['anon-2', 1],
        ['user-1', 0],
      ])
      const persons = await db().selectFrom('persons').select('uuid').where('team_id', '=', 7).execute()
      expect(persons.map((p) => p.uuid)).toEqual([kept])
      const audit = await db().selectFrom('person_merges').selectAll().where('team_id', '=', 7).execute()
      expect(audit).toHaveLength(1)
      expect(audit[0]).toMatchObject({
        kept_person_uuid: kept,
        merged_person_uuid: other,
        distinct_ids: ['anon-1', 'anon-2'],
      })
    })

    test('creating a row that exists fails the transaction; an older snapshot never overwrites a newer one', async () => {
      const store = postgresIdentityStore(db())
      const uuid = '00000000-0000-5000-8000-000000000003'
      const created: Fact[] = [
        person('person_created', uuid, 3, { v: 'new' }),
        { type: 'distinct_id_assigned', teamId: 7, distinctId: 'snapshot-1', personUuid: uuid, version: 0 },
      ]
      await store.transaction((tx) => tx.applyFacts(created))
      await expect(store.transaction((tx) => tx.applyFacts(created))).rejects.toThrow(
        IdentityStoreConflictError,
      )
      await store.transaction(async (tx) => {
        await tx.load({
          distinctIds: [{ teamId: 7, distinctId: 'snapshot-1' }],
          groupTypeTeams: [],
          groups: [],
        })
        await tx.applyFacts([person('person_updated', uuid, 2, { v: 'old' })])
      })
      const row = await db()
        .selectFrom('persons')
        .select(['properties', 'version'])
        .where('uuid', '=', uuid)
        .executeTakeFirst()
      expect(row).toEqual({ properties: { v: 'new' }, version: 3 })
    })

    test('groups, group types and personless ids are stored and loaded', async () => {
      const store = postgresIdentityStore(db())
      await store.transaction((tx) =>
        tx.applyFacts([
          { type: 'group_type_assigned', teamId: 8, groupType: 'company', groupTypeIndex: 0 },
          {
            type: 'group_updated',
            teamId: 8,
            groupTypeIndex: 0,
            groupKey: 'acme',
            properties: { size: 10 },
            createdAt: '2026-01-01T00:00:00.000Z',
            version: 1,
          },
          { type: 'personless_distinct_id_seen', teamId: 8, distinctId: 'visitor' },
        ]),
      )
      const loaded = await store.transaction((tx) =>
        tx.load({
          distinctIds: [{ teamId: 8, distinctId: 'visitor' }],
          groupTypeTeams: [8],
          groups: [{ teamId: 8, groupType: 'company', groupKey: 'acme' }],
        }),
      )
      expect(loaded.groupTypes).toEqual([{ teamId: 8, groupType: 'company', groupTypeIndex: 0 }])
      expect(loaded.groups).toEqual([
        {
          teamId: 8,
          groupTypeIndex: 0,
          groupKey: 'acme',
          properties: { size: 10 },
          createdAt: '2026-01-01T00:00:00.000Z',
          version: 1,
        },
      ])
      expect(loaded.personless).toEqual([{ teamId: 8, distinctId: 'visitor', isMerged: false }])
    })

    test('offsets and outbox commit with the projection, or not at all', async () => {
      const store = postgresIdentityStore(db())
      const uuid = '00000000-0000-5000-8000-000000000004'
      await expect(
        store.transaction(async (tx) => {
          await tx.applyFacts([person('person_created', uuid, 0, {})])
          await tx.commitOffset('ingest', 'events_plugin_ingestion', 0, 0, 10)
          await tx.addToOutbox([{ topic: 'clickhouse_person', key: uuid, value: '{}' }])
          throw new Error('crash before commit')
        }),
      ).rejects.toThrow('crash before commit')
      expect(await store.consumedOffset('ingest', 'events_plugin_ingestion', 0)).toBeUndefined()
      expect(await db().selectFrom('persons').select('uuid').where('uuid', '=', uuid).execute()).toEqual([])

      await store.transaction(async (tx) => {
        await tx.commitOffset('ingest', 'events_plugin_ingestion', 0, 0, 10)
        await tx.addToOutbox([{ topic: 'clickhouse_person', key: uuid, value: '{"a":1}' }])
      })
      expect(await store.consumedOffset('ingest', 'events_plugin_ingestion', 0)).toBe(10)
      expect(await store.appliedBatches('ingest')).toEqual([
        { topic: 'events_plugin_ingestion', partition: 0, firstOffset: 0, nextOffset: 10 },
      ])
      // an entry just committed is not yet one a crashed process left behind
      expect(await store.pendingOutbox(10, 60)).toEqual([])
      const pending = await store.pendingOutbox(10)
      expect(await store.pendingOutbox(10, 0)).toEqual(pending)
      expect(pending.map((p) => p.records)).toEqual([
        [{ topic: 'clickhouse_person', key: uuid, value: '{"a":1}' }],
      ])
      await store.transaction(async (tx) => {
        await tx.deleteOutbox([pending[0]!.id])
        await tx.addToOutbox([{ topic: 'clickhouse_person', key: uuid, value: '{"a":2}' }])
      })
      const [next] = await store.pendingOutbox(10)
      expect(next?.records[0]?.value).toBe('{"a":2}')
      await store.deleteOutbox([next!.id])
      expect(await store.pendingOutbox(10)).toEqual([])
      // an entry an older release wrote as text is still published
      await db()
        .insertInto('fact_outbox')
        .values({
          records: encodeOutbox([{ topic: 'clickhouse_person', key: null, value: '{"a":3}' }]).toString(
            'utf8',
          ),
        })
        .execute()
      const [legacy] = await store.pendingOutbox(10)
      expect(legacy?.records).toEqual([{ topic: 'clickhouse_person', key: null, value: '{"a":3}' }])
      await store.deleteOutbox([legacy!.id])
    })

    test('reset empties the projection but keeps projects', async () => {
      const store = postgresIdentityStore(db())
      await store.reset()
      expect(await db().selectFrom('persons').select('uuid').execute()).toEqual([])
      expect(await db().selectFrom('person_merges').select('id').execute()).toEqual([])
      expect((await postgresProjectStore(db()).list()).length).toBeGreaterThan(0)
    })
  })
}

function person(
  type: 'person_created' | 'person_updated',
  uuid: string,
  version: number,
  properties: Record<string, unknown>,
  isIdentified = false,
): Fact {
  return { type, teamId: 7, uuid, createdAt: '2026-01-01T00:00:00.000Z', properties, isIdentified, version }
}
