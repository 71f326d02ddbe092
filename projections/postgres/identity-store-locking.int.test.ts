import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Db, openPostgres } from '../../adapters/postgres/connect.ts'
import type { IdentityStore, StoredPerson } from '../../ports/identity-store.ts'
import type { Fact } from '../../schema/facts.ts'
import {
  createTestDatabase,
  postgresServerReachable,
  postgresServerUrl,
} from '../../tests/support/postgres-server.ts'
import { serviceAvailable } from '../../tests/support/services.ts'
import { postgresIdentityStore } from './identity-store.ts'

/**
 * Several ingest processes on one PostgreSQL: transactions that touch the same persons must queue
 * on row locks (taken in a fixed order) and retry lost races, so no update is ever lost.
 */
describe('identity store under concurrent transactions on PostgreSQL', () => {
  let db: Db | null = null
  let drop: (() => Promise<void>) | null = null

  beforeAll(async () => {
    const problem = await postgresServerReachable()
    if (!serviceAvailable('PostgreSQL', problem === null, `${postgresServerUrl}: ${problem}`)) return
    const database = await createTestDatabase()
    drop = database.drop
    db = await openPostgres({ kind: 'pg', url: database.url, poolSize: 20 })
  })
  afterAll(async () => {
    await db?.destroy()
    await drop?.()
  })

  /** The facts that create a person holding one distinct id. */
  const newPerson = (uuid: string, distinctId: string, properties: Record<string, unknown> = {}): Fact[] => [
    {
      type: 'person_created',
      teamId: 1,
      uuid,
      createdAt: '2026-01-01T00:00:00.000Z',
      properties,
      isIdentified: false,
      version: 0,
    },
    { type: 'distinct_id_assigned', teamId: 1, distinctId, personUuid: uuid, version: 0 },
  ]

  const bump = (person: StoredPerson): Fact => ({
    type: 'person_updated',
    teamId: person.teamId,
    uuid: person.uuid,
    createdAt: person.createdAt,
    properties: { ...person.properties, counter: Number(person.properties.counter ?? 0) + 1 },
    isIdentified: person.isIdentified,
    version: person.version + 1,
  })

  it('loses no update when transactions lock the same persons in different orders', async (ctx) => {
    if (db === null) return ctx.skip()
    const store: IdentityStore = postgresIdentityStore(db)
    const uuids = ['00000000-0000-5000-8000-00000000000a', '00000000-0000-5000-8000-00000000000b']
    await store.transaction((tx) => tx.applyFacts(uuids.flatMap((uuid, i) => newPerson(uuid, `id-${i}`))))
    const workers = 16
    await Promise.all(
      Array.from({ length: workers }, (_, worker) =>
        store.transaction(async (tx) => {
          const ids = worker % 2 === 0 ? ['id-0', 'id-1'] : ['id-1', 'id-0']
          const loaded = await tx.load({
            distinctIds: ids.map((distinctId) => ({ teamId: 1, distinctId })),
            groupTypeTeams: [],
            groups: [],
          })
          await sleep(2)
          await tx.applyFacts(loaded.persons.map(bump))
        }),
      ),
    )
    const rows = await db
      .selectFrom('persons')
      .select(['uuid', 'version', 'properties'])
      .orderBy('uuid')
      .execute()
    expect(rows).toEqual(uuids.map((uuid) => ({ uuid, version: workers, properties: { counter: workers } })))
  })

  it('retries a transaction that lost the race to create the same person', async (ctx) => {
    if (db === null) return ctx.skip()
    const store: IdentityStore = postgresIdentityStore(db)
    const uuid = '00000000-0000-5000-8000-00000000000c'
    const workers = 8
    await Promise.all(
      Array.from({ length: workers }, () =>
        store.transaction(async (tx) => {
          const loaded = await tx.load({
            distinctIds: [{ teamId: 1, distinctId: 'new-id' }],
            groupTypeTeams: [],
            groups: [],
          })
          await sleep(2)
          const existing = loaded.persons[0]
          await tx.applyFacts(existing ? [bump(existing)] : newPerson(uuid, 'new-id', { counter: 1 }))
        }),
      ),
    )
    const row = await db
      .selectFrom('persons')
      .select(['version', 'properties'])
      .where('uuid', '=', uuid)
      .executeTakeFirstOrThrow()
    expect(row).toEqual({ version: workers - 1, properties: { counter: workers } })
  })

  it('runs a transaction again when a merge absorbed the person its distinct id pointed to', async (ctx) => {
    if (db === null) return ctx.skip()
    const store: IdentityStore = postgresIdentityStore(db)
    const [absorbed, kept] = ['00000000-0000-5000-8000-00000000000d', '00000000-0000-5000-8000-00000000000e']
    await store.transaction((tx) =>
      tx.applyFacts([absorbed, kept].flatMap((uuid, i) => newPerson(uuid, `merge-${i}`))),
    )
    let mergeLoaded!: () => void
    const loadedByMerge = new Promise<void>((resolve) => {
      mergeLoaded = resolve
    })
    const merge = store.transaction(async (tx) => {
      const loaded = await tx.load({
        distinctIds: ['merge-0', 'merge-1'].map((distinctId) => ({ teamId: 1, distinctId, mayMerge: true })),
        groupTypeTeams: [],
        groups: [],
      })
      expect(loaded.persons.find((p) => p.uuid === absorbed)?.distinctIds).toEqual([
        { distinctId: 'merge-0', version: 0 },
      ])
      mergeLoaded()
      await sleep(50)
      await tx.applyFacts([
        { type: 'distinct_id_assigned', teamId: 1, distinctId: 'merge-0', personUuid: kept, version: 1 },
        { type: 'person_deleted', teamId: 1, uuid: absorbed, version: 1 },
      ])
    })
    await loadedByMerge
    const attempts: string[][] = []
    const update = store.transaction(async (tx) => {
      const loaded = await tx.load({
        distinctIds: [{ teamId: 1, distinctId: 'merge-0' }],
        groupTypeTeams: [],
        groups: [],
      })
      attempts.push(loaded.persons.map((p) => p.uuid))
      await tx.applyFacts(loaded.persons.map(bump))
    })
    await Promise.all([merge, update])
    // the first attempt waited for the merge's lock, found the person gone and ran again
    expect(attempts).toEqual([[kept]])
    const rows = await db
      .selectFrom('persons')
      .select(['uuid', 'properties'])
      .where('uuid', 'in', [absorbed, kept])
      .execute()
    expect(rows).toEqual([{ uuid: kept, properties: { counter: 1 } }])
  })

  it('reads again a cached person that another process changed', async (ctx) => {
    if (db === null) return ctx.skip()
    const uuid = '00000000-0000-5000-8000-00000000000f'
    const mine = postgresIdentityStore(db)
    const theirs = postgresIdentityStore(db)
    const loadAndBump = (store: IdentityStore) =>
      store.transaction(async (tx) => {
        const loaded = await tx.load({
          distinctIds: [{ teamId: 1, distinctId: 'cached-id' }],
          groupTypeTeams: [],
          groups: [],
        })
        await tx.applyFacts(loaded.persons.map(bump))
        return loaded.persons[0]?.version
      })
    await mine.transaction((tx) => tx.applyFacts(newPerson(uuid, 'cached-id')))
    expect(await loadAndBump(mine)).toBe(0) // now cached at version 1
    expect(await loadAndBump(theirs)).toBe(1) // version 2, behind my back
    expect(await loadAndBump(mine)).toBe(2)
    const row = await db
      .selectFrom('persons')
      .select(['version', 'properties'])
      .where('uuid', '=', uuid)
      .executeTakeFirstOrThrow()
    expect(row).toEqual({ version: 3, properties: { counter: 3 } })
  })
})
