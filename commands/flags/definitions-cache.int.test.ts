import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Db, openPostgres } from '../../adapters/postgres/connect.ts'
import { postgresFlagEvaluationStore } from '../../projections/postgres/flag-evaluation-store.ts'
import { postgresFlagStore } from '../../projections/postgres/flag-store.ts'
import { postgresProjectStore } from '../../projections/postgres/project-store.ts'
import { createFlagDefinitionsCache } from './definitions-cache.ts'
import { FlagDefinitionsUnavailableError } from './errors.ts'

describe('the flag definitions cache (PGlite)', () => {
  let db: Db
  let team: number
  beforeAll(async () => {
    db = await openPostgres({ kind: 'pglite', dataDir: null })
    team = (
      await postgresProjectStore(db).createProject({
        name: 'c',
        apiToken: 'phc_cache',
        personalApiKey: 'phx_cache',
      })
    ).project.id
  })
  afterAll(async () => {
    await db?.destroy()
  })

  const flag = (key: string, active = true) => ({
    key,
    name: '',
    filters: { groups: [{ rollout_percentage: 100 }] },
    active,
    ensureExperienceContinuity: key.startsWith('continuous'),
  })

  it('serves what it read until it is older than its age or told of a change, and only active flags', async () => {
    const store = postgresFlagStore(db)
    let clock = 0
    const cache = createFlagDefinitionsCache(
      { flags: store, evaluation: postgresFlagEvaluationStore(db) },
      { maxAgeMs: 1000, now: () => clock },
    )
    await store.create(team, flag('first'))
    await store.create(team, flag('dormant', false))
    expect((await cache.forProject(team)).flags.map((f) => f.key)).toEqual(['first'])
    // another process adds a flag: seen once the entry is older than its age
    await store.create(team, flag('continuous-second'))
    clock = 999
    expect((await cache.forProject(team)).flags.map((f) => f.key)).toEqual(['first'])
    clock = 1000
    const refreshed = await cache.forProject(team)
    expect(refreshed.flags.map((f) => f.key)).toEqual(['first', 'continuous-second'])
    expect(refreshed.continuityFlagKeys).toEqual(['continuous-second'])
    // this process changes one while a read is under way: the read, older, is not kept
    clock = 2000
    const pending = cache.forProject(team)
    const creating = store.create(team, flag('third'))
    cache.forget(team)
    expect((await pending).flags.map((f) => f.key)).not.toContain('third')
    await creating
    expect((await cache.forProject(team)).flags.map((f) => f.key)).toContain('third')
  })

  it('keeps serving the last definitions when the database goes away, and says so when it has none', async () => {
    const other = await openPostgres({ kind: 'pglite', dataDir: null })
    const otherTeam = (
      await postgresProjectStore(other).createProject({
        name: 'd',
        apiToken: 'phc_d',
        personalApiKey: 'phx_d',
      })
    ).project.id
    await postgresFlagStore(other).create(otherTeam, flag('kept'))
    let clock = 0
    const cache = createFlagDefinitionsCache(
      { flags: postgresFlagStore(other), evaluation: postgresFlagEvaluationStore(other) },
      { maxAgeMs: 10, now: () => clock },
    )
    expect((await cache.forProject(otherTeam)).flags.map((f) => f.key)).toEqual(['kept'])
    await other.destroy()
    clock = 100
    expect((await cache.forProject(otherTeam)).flags.map((f) => f.key)).toEqual(['kept'])
    await expect(cache.forProject(otherTeam + 1)).rejects.toBeInstanceOf(FlagDefinitionsUnavailableError)
  })
})
