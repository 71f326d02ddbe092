import { describe, expect } from 'vitest'
import { maxLogsPerApp, type NewApp } from '../../ports/apps.ts'
import { postgresAppStore } from '../../projections/postgres/app-store.ts'
import { postgresIdentityStore } from '../../projections/postgres/identity-store.ts'
import type { AppLogEntry } from '../../schema/apps.ts'
import { type OpenDatabase, withTwoProjects } from './postgres-adapters.ts'

/** What the app store must do on every Postgres adapter (PGlite, PostgreSQL), with the same kysely code. */
export function appStoreContract(name: string, open: OpenDatabase) {
  describe(`the app store on ${name}`, () => {
    const { teams, test } = withTwoProjects(open, 'apps')
    const app = (appName: string, extra: Partial<NewApp> = {}): NewApp => ({
      name: appName,
      source: `function processEvent(event) { return event } // ${appName}`,
      config: { key: appName },
      enabled: true,
      ...extra,
    })

    test('apps run by order then id, a new one after the others; a change of what an app does is a new version, kept', async (db) => {
      const store = postgresAppStore(db)
      const [team] = teams
      const first = await store.create(team, app('first'))
      const second = await store.create(team, app('second', { config: { key: 'second', more: [1] } }))
      const early = await store.create(team, app('early', { order: -5 }))
      expect(first).toMatchObject({
        teamId: team,
        name: 'first',
        config: { key: 'first' },
        enabled: true,
        version: 1,
      })
      expect(second.order).toBe(first.order + 1)
      expect((await store.list(team)).map((a) => a.name)).toEqual(['early', 'first', 'second'])

      // enabled and order change the app, not what it does
      expect(await store.update(team, first.id, { enabled: false, order: 10 })).toMatchObject({
        enabled: false,
        order: 10,
        version: 1,
      })
      // the same config with its keys in another order is no change either
      await store.update(team, second.id, { config: { more: [1], key: 'second' } })
      expect((await store.get(team, second.id))?.version).toBe(1)
      const edited = await store.update(team, second.id, {
        source: 'const processEvent = (e) => e',
        config: { key: 'new' },
      })
      expect(edited).toMatchObject({
        version: 2,
        source: 'const processEvent = (e) => e',
        config: { key: 'new' },
      })
      expect((await store.enabledVersions(team)).map((v) => [v.appId, v.version])).toEqual([
        [early.id, 1],
        [second.id, 2],
      ])
      // every version stays readable, whatever became of the app
      expect(await store.delete(team, second.id)).toBe(true)
      expect(await store.get(team, second.id)).toBeUndefined()
      const versions = await store.versions([
        { appId: second.id, version: 1 },
        { appId: second.id, version: 2 },
      ])
      expect(versions.map((v) => [v.version, v.config, v.teamId]).sort()).toEqual([
        [1, { key: 'second', more: [1] }, team],
        [2, { key: 'new' }, team],
      ])
    })

    test("a project never sees nor changes another project's apps", async (db) => {
      const store = postgresAppStore(db)
      const [team, other] = teams
      const theirs = await store.create(other, app('theirs'))
      expect(await store.get(team, theirs.id)).toBeUndefined()
      expect(await store.update(team, theirs.id, { enabled: false })).toBeUndefined()
      expect(await store.delete(team, theirs.id)).toBe(false)
      expect((await store.list(team)).some((a) => a.id === theirs.id)).toBe(false)
      expect(await store.get(other, theirs.id)).toMatchObject({ enabled: true })
    })

    test('ingest disables an app only at the version that failed, and only once', async (db) => {
      const store = postgresAppStore(db)
      const [team] = teams
      const failing = await store.create(team, app('failing'))
      await store.update(team, failing.id, { source: 'const processEvent = (e) => e' })
      expect(await store.disable({ appId: failing.id, version: 1 })).toBe(false)
      expect(await store.disable({ appId: failing.id, version: 2 })).toBe(true)
      expect(await store.disable({ appId: failing.id, version: 2 })).toBe(false)
      expect((await store.get(team, failing.id))?.enabled).toBe(false)
    })

    test("an app's log is newest first and keeps only its newest lines", async (db) => {
      const store = postgresAppStore(db)
      const [team] = teams
      const chatty = await store.create(team, app('chatty'))
      const line = (n: number): AppLogEntry => ({
        appId: chatty.id,
        teamId: team,
        timestamp: new Date(Date.UTC(2026, 10, 25, 0, 0, 0, n)).toISOString(),
        level: 'log',
        message: `line ${n}`,
        eventUuid: n % 2 === 0 ? '0190f0a0-0000-7000-8000-000000000001' : null,
      })
      await store.addLogs(Array.from({ length: maxLogsPerApp - 2 }, (_, n) => line(n)))
      await store.addLogs(Array.from({ length: 5 }, (_, n) => line(maxLogsPerApp - 2 + n)))
      const logs = await store.logs(team, chatty.id, maxLogsPerApp + 10)
      expect(logs).toHaveLength(maxLogsPerApp)
      expect(logs[0]).toEqual(line(maxLogsPerApp + 2))
      expect(logs.at(-1)?.message).toBe('line 3')
      expect(await store.logs(teams[1], chatty.id, 10)).toEqual([])
    })

    test("what ingest recorded of the apps it ran is written in the batch's transaction and outlives a replay's reset", async (db) => {
      const store = postgresAppStore(db)
      const identities = postgresIdentityStore(db)
      const record = {
        groupId: 'apps-contract',
        topic: 'events_plugin_ingestion',
        partition: 2,
        firstOffset: 10,
        nextOffset: 20,
        runs: [{ teamId: teams[0], apps: [{ appId: 1, version: 3 }] }],
        failures: [{ offset: 12, appId: 1, version: 3, error: 'Error: x', disabledAfter: null }],
      }
      await identities.transaction(async (tx) => {
        await tx.commitOffset(record.groupId, record.topic, record.partition, 10, 20)
        tx.recordAppRuns(record)
      })
      await identities.reset()
      expect(await store.recordedRuns('apps-contract')).toEqual([record])
      expect(await store.recordedRuns('another group')).toEqual([])
    })
  })
}
