import { describe, expect } from 'vitest'
import type { NewFlag } from '../../ports/flags.ts'
import { FlagKeyTakenError } from '../../ports/flags.ts'
import { postgresFlagEvaluationStore } from '../../projections/postgres/flag-evaluation-store.ts'
import { postgresFlagStore } from '../../projections/postgres/flag-store.ts'
import { postgresIdentityStore } from '../../projections/postgres/identity-store.ts'
import { type OpenDatabase, withTwoProjects } from './postgres-adapters.ts'

/** What the flag stores must do on every Postgres adapter (PGlite, PostgreSQL), with the same kysely code. */
export function flagStoreContract(name: string, open: OpenDatabase) {
  describe(`flag stores on ${name}`, () => {
    const { teams, test } = withTwoProjects(open, 'flags')
    const flag = (key: string, extra: Partial<NewFlag> = {}): NewFlag => ({
      key,
      name: `${key} flag`,
      filters: {
        groups: [{ properties: [{ key: 'plan', value: 'pro', type: 'person' }], rollout_percentage: 50 }],
      },
      active: true,
      ensureExperienceContinuity: false,
      ...extra,
    })

    test('flags are created, read back as stored, listed per project, and every change bumps the version', async (db) => {
      const store = postgresFlagStore(db)
      const created = await store.create(teams[0], flag('beta', { ensureExperienceContinuity: true }))
      expect(created).toMatchObject({
        teamId: teams[0],
        key: 'beta',
        name: 'beta flag',
        active: true,
        deleted: false,
        ensureExperienceContinuity: true,
        version: 1,
        filters: flag('beta').filters,
      })
      await store.create(teams[1], flag('beta'))
      expect(await store.get(teams[1], created.id)).toBeUndefined()
      const updated = await store.update(teams[0], created.id, { active: false, name: 'renamed' })
      expect(updated).toMatchObject({ active: false, name: 'renamed', version: 2, key: 'beta' })
      expect(Date.parse(updated!.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt))
      expect((await store.list(teams[0])).map((f) => f.key)).toEqual(['beta'])
      expect(await store.update(teams[1], created.id, { active: true })).toBeUndefined()
    })

    test('a key names one live flag per project; deleting frees it, and restoring then collides', async (db) => {
      const store = postgresFlagStore(db)
      const first = await store.create(teams[0], flag('unique-key'))
      await expect(store.create(teams[0], flag('unique-key'))).rejects.toBeInstanceOf(FlagKeyTakenError)
      const other = await store.create(teams[0], flag('other-key'))
      await expect(store.update(teams[0], other.id, { key: 'unique-key' })).rejects.toThrow(/unique-key/)
      await store.update(teams[0], first.id, { deleted: true })
      const second = await store.create(teams[0], flag('unique-key'))
      expect((await store.list(teams[0])).filter((f) => f.key === 'unique-key').map((f) => f.id)).toEqual([
        second.id,
      ])
      expect((await store.list(teams[0], { includeDeleted: true })).map((f) => f.id)).toContain(first.id)
      const restoring = store.update(teams[0], first.id, { deleted: false })
      await expect(restoring).rejects.toEqual(new FlagKeyTakenError('unique-key'))
    })

    test('evaluation reads persons by any distinct id, groups by type and key, and the group types', async (db) => {
      const team = teams[1]
      const person = '00000000-0000-5000-8000-00000000f1a9'
      await postgresIdentityStore(db).transaction((tx) =>
        tx.applyFacts([
          {
            type: 'person_created',
            teamId: team,
            uuid: person,
            createdAt: '2026-01-01T00:00:00.000Z',
            properties: { plan: 'pro', email: 'a@b.c' },
            isIdentified: true,
            version: 0,
          },
          {
            type: 'distinct_id_assigned',
            teamId: team,
            distinctId: 'user-1',
            personUuid: person,
            version: 0,
          },
          {
            type: 'distinct_id_assigned',
            teamId: team,
            distinctId: 'anon-1',
            personUuid: person,
            version: 0,
          },
          { type: 'group_type_assigned', teamId: team, groupType: 'company', groupTypeIndex: 0 },
          { type: 'group_type_assigned', teamId: team, groupType: 'team', groupTypeIndex: 1 },
          {
            type: 'group_updated',
            teamId: team,
            groupTypeIndex: 0,
            groupKey: 'acme',
            properties: { size: 10 },
            createdAt: '2026-01-01T00:00:00.000Z',
            version: 1,
          },
        ]),
      )
      const store = postgresFlagEvaluationStore(db)
      expect(await store.personProperties(team, 'anon-1')).toEqual({ plan: 'pro', email: 'a@b.c' })
      expect(await store.personProperties(team, 'nobody')).toBeNull()
      expect(await store.personProperties(teams[0], 'user-1')).toBeNull()
      expect(await store.groupTypes(team)).toEqual(
        new Map([
          [0, 'company'],
          [1, 'team'],
        ]),
      )
      expect(
        await store.groupProperties(team, [
          { groupTypeIndex: 0, groupKey: 'acme' },
          { groupTypeIndex: 1, groupKey: 'acme' },
        ]),
      ).toEqual([{ groupTypeIndex: 0, properties: { size: 10 } }])
      const linked = await store.personDistinctIds(team, ['user-1', 'stranger'])
      expect(linked.map((l) => `${l.of}>${l.distinctId}`).sort()).toEqual(['user-1>anon-1', 'user-1>user-1'])
    })

    test('hash key overrides are added once: an existing one is never replaced', async (db) => {
      const store = postgresFlagEvaluationStore(db)
      await store.addHashKeyOverrides(teams[0], [
        { distinctId: 'user-1', flagKey: 'exp', hashKey: 'anon-1' },
        { distinctId: 'anon-1', flagKey: 'exp', hashKey: 'anon-1' },
      ])
      await store.addHashKeyOverrides(teams[0], [{ distinctId: 'user-1', flagKey: 'exp', hashKey: 'anon-2' }])
      await store.addHashKeyOverrides(teams[0], [])
      expect(await store.hashKeyOverrides(teams[0], ['user-1', 'someone'])).toEqual([
        { distinctId: 'user-1', flagKey: 'exp', hashKey: 'anon-1' },
      ])
      expect(await store.hashKeyOverrides(teams[1], ['user-1'])).toEqual([])
    })
  })
}
