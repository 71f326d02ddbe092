import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedLog } from '../../adapters/log/embedded/embedded-log.ts'
import { type Db, openPostgres } from '../../adapters/postgres/connect.ts'
import { withTypedFailures } from '../../adapters/postgres/typed-failures.ts'
import { createQuickJsSandbox } from '../../adapters/sandbox/quickjs-sandbox.ts'
import type { AppStore } from '../../ports/apps.ts'
import { DependencyUnavailableError } from '../../ports/failures.ts'
import type { Log, LogBatch } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'
import { postgresAppStore } from '../../projections/postgres/app-store.ts'
import { postgresIdentityStore } from '../../projections/postgres/identity-store.ts'
import { postgresProjectStore } from '../../projections/postgres/project-store.ts'
import type { AppConfig } from '../../schema/apps.ts'
import type { EventRow, IngestionWarningRow } from '../../schema/clickhouse-rows.ts'
import type { RawEvent } from '../../schema/command.ts'
import type { PostgresTables } from '../../schema/postgres/tables.ts'
import { Topics } from '../../schema/topics.ts'
import { createIngestBatchHandler } from '../ingest/ingest-batch.ts'
import { appendCaptured, countingUuids } from '../ingest/testing/command-log.ts'
import { createTokenCache } from '../projects/token-cache.ts'
import { type AppVersionSource, currentAppVersions, recordedAppVersions } from './app-versions.ts'
import { createAppsStep } from './apps-step.ts'
import { createCompiledApps } from './compiled-apps.ts'
import { createEnabledApps } from './enabled-apps.ts'

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} }
const nextUuid = countingUuids()
const disableAfterFailures = 3

/** Apps run by ingest as a running sluice runs them: real PGlite, embedded log, QuickJS sandbox. */
describe('apps in ingest (PGlite + embedded log + QuickJS)', () => {
  let db: Db
  let log: Log
  let store: AppStore
  let team: number
  let token: string
  // time enough to fill the memory even on a busy machine, so it is the memory limit that stops an app
  const sandbox = createQuickJsSandbox({ memoryBytes: 32 * 2 ** 20, timeoutMs: 3000 })
  const compiled = createCompiledApps(sandbox)

  beforeAll(async () => {
    db = await openPostgres({ kind: 'pglite', dataDir: null })
    log = createEmbeddedLog({ path: mkdtempSync(join(tmpdir(), 'sluice-apps-')) })
    await log.ensureTopics(
      Object.values(Topics).map((name) => ({ name, partitions: 1, retention: 'forever' as const })),
    )
    store = postgresAppStore(db)
    const { project } = await postgresProjectStore(db).createProject({
      name: 'apps',
      apiToken: 'phc_apps_test',
      personalApiKey: 'phx_apps_test',
    })
    team = project.id
    token = project.apiToken
  })
  afterAll(async () => {
    compiled.disposeAll()
    await log.close()
    await db.destroy()
  })

  /** Ingests a batch as a fresh process would (nothing cached), and waits for its facts. */
  const ingest = async (batch: LogBatch, versions?: AppVersionSource, appStore = store) => {
    const handler = createIngestBatchHandler({
      identities: postgresIdentityStore(db),
      tokens: createTokenCache(postgresProjectStore(db)),
      log,
      groupId: 'ingest',
      logger: quiet,
      now: () => new Date('2026-11-25T00:00:00.000Z'),
      apps: createAppsStep({
        versions: versions ?? currentAppVersions(createEnabledApps(appStore)),
        compiled,
        store: appStore,
        disableAfterFailures,
        logger: quiet,
        now: () => new Date('2026-11-25T00:00:00.000Z'),
      }),
    })
    const result = await handler.apply(batch)
    await handler.drain()
    return result
  }
  const append = (events: RawEvent[]) => appendCaptured(log, events, token, nextUuid)
  const readAfter = async <T>(topic: string, from: number): Promise<T[]> =>
    (await log.read(topic, 0, from, 10_000)).map((m) => JSON.parse(m.value) as T)
  const end = async (topic: string) => (await log.endOffsets(topic)).get(0) ?? 0
  /** Runs a scenario with only the given apps enabled, and gives the events and warnings it published. */
  const withApps = async (
    apps: { name: string; source: string; config?: AppConfig }[],
    events: RawEvent[],
  ) => {
    for (const app of await store.list(team)) await store.delete(team, app.id)
    const installed = []
    for (const app of apps)
      installed.push(
        await store.create(team, {
          name: app.name,
          source: app.source,
          config: app.config ?? {},
          enabled: true,
        }),
      )
    const [eventsFrom, warningsFrom] = [await end(Topics.events), await end(Topics.ingestionWarnings)]
    const batch = await append(events)
    const result = await ingest(batch)
    const published = await readAfter<EventRow>(Topics.events, eventsFrom)
    const warnings = (await readAfter<IngestionWarningRow>(Topics.ingestionWarnings, warningsFrom)).map(
      (w) => ({
        type: w.type,
        details: JSON.parse(w.details) as Record<string, unknown>,
      }),
    )
    return {
      result,
      batch,
      installed,
      warnings,
      events: published.map((e) => ({ ...e, properties: JSON.parse(e.properties) })),
    }
  }
  const personOf = async (distinctId: string) =>
    (
      await db
        .selectFrom('person_distinct_ids')
        .innerJoin('persons', 'persons.uuid', 'person_distinct_ids.person_uuid')
        .select('persons.properties')
        .where('distinct_id', '=', distinctId)
        .executeTakeFirst()
    )?.properties

  it('adds a property from its config', async () => {
    const { events } = await withApps(
      [
        {
          name: 'tag',
          source:
            'export function processEvent(event, { config }) { event.properties.team_name = config.team; return event }',
          config: { team: 'growth' },
        },
      ],
      [{ event: 'viewed', distinct_id: 'config-user', properties: { plan: 'free' } }],
    )
    expect(events[0]?.properties).toMatchObject({ plan: 'free', team_name: 'growth' })
  })

  it('drops the event when processEvent returns nothing: counted, consumed, warned about', async () => {
    const { result, events, warnings, batch, installed } = await withApps(
      [{ name: 'no bots', source: 'function processEvent(e) { return e.properties.bot ? null : e }' }],
      [
        { event: 'viewed', distinct_id: 'bot-1', properties: { bot: true } },
        { event: 'viewed', distinct_id: 'human-1' },
      ],
    )
    expect(result).toEqual({ ingested: 1, dropped: 1, deadLettered: 0, alreadyApplied: 0 })
    expect(events.map((e) => e.distinct_id)).toEqual(['human-1'])
    expect(warnings).toEqual([
      {
        type: 'event_dropped_by_transformation',
        details: {
          eventUuid: JSON.parse(batch.messages[0]!.value).uuid,
          event: 'viewed',
          appId: installed[0]!.id,
          appName: 'no bots',
          appVersion: 1,
        },
      },
    ])
    expect(await personOf('bot-1')).toBeUndefined()
    expect(await ingest(batch)).toEqual({ ingested: 0, dropped: 0, deadLettered: 0, alreadyApplied: 2 })
  })

  it('renames the event and changes the distinct id', async () => {
    const { events } = await withApps(
      [
        {
          name: 'rename',
          source:
            'function processEvent(e) { e.event = "page viewed"; e.distinct_id = e.distinct_id.toLowerCase(); return e }',
        },
      ],
      [{ event: '$pageview', distinct_id: 'MixedCase' }],
    )
    expect(events.map((e) => [e.event, e.distinct_id])).toEqual([['page viewed', 'mixedcase']])
  })

  it('changes $set, and the person gets it', async () => {
    await withApps(
      [
        {
          name: 'enrich',
          source: `function processEvent(event) {
            event.properties.$set = { ...event.properties.$set, tier: event.properties.plan === 'pro' ? 'gold' : 'basic' }
            event.$set_once = { first_plan: event.properties.plan }
            return event
          }`,
        },
      ],
      [
        { event: 'upgraded', distinct_id: 'set-user', properties: { plan: 'pro', $set: { email: 'a@b.c' } } },
        { event: 'downgraded', distinct_id: 'set-user', properties: { plan: 'free' } },
      ],
    )
    expect(await personOf('set-user')).toMatchObject({ email: 'a@b.c', tier: 'basic', first_plan: 'pro' })
  })

  it('lets an app that throws, loops or allocates without end lose no event: each goes on unchanged, with a warning and a log line', async () => {
    const source = `function processEvent(event) {
      if (event.properties.how === 'throw') throw new Error('cannot handle ' + event.distinct_id)
      if (event.properties.how === 'loop') for (;;) {}
      if (event.properties.how === 'allocate') { const kept = []; for (;;) kept.push(new ArrayBuffer(1 << 20)) }
      event.properties.handled = true
      return event
    }`
    const { result, events, warnings, installed } = await withApps(
      [{ name: 'fragile', source }],
      [
        { event: 'viewed', distinct_id: 'f-1', properties: { how: 'throw' } },
        { event: 'viewed', distinct_id: 'f-2', properties: { how: 'loop' } },
        { event: 'viewed', distinct_id: 'f-3', properties: { how: 'fine' } },
        { event: 'viewed', distinct_id: 'f-4', properties: { how: 'allocate' } },
        { event: 'viewed', distinct_id: 'f-5', properties: { how: 'fine' } },
      ],
    )
    expect(result).toMatchObject({ ingested: 5, dropped: 0, deadLettered: 0 })
    expect(events.map((e) => [e.distinct_id, e.properties.handled ?? false])).toEqual([
      ['f-1', false],
      ['f-2', false],
      ['f-3', true],
      ['f-4', false],
      ['f-5', true],
    ])
    expect(warnings.map((w) => [w.type, w.details.appName, w.details.error])).toEqual([
      ['app_failed', 'fragile', 'Error: cannot handle f-1'],
      ['app_failed', 'fragile', 'ran longer than its 3000 ms'],
      ['app_failed', 'fragile', 'used more than its 32 MB of memory'],
    ])
    const logs = await store.logs(team, installed[0]!.id, 10)
    expect(logs.map((l) => [l.level, l.message])).toContainEqual([
      'error',
      'processEvent failed: Error: cannot handle f-1',
    ])
  })

  it('runs two apps in order, each on what the one before returned', async () => {
    const { events } = await withApps(
      [
        { name: 'first', source: 'function processEvent(e) { e.properties.trail = ["first"]; return e }' },
        {
          name: 'second',
          source: 'function processEvent(e) { e.properties.trail.push("second"); e.event += "!"; return e }',
        },
      ],
      [{ event: 'ordered', distinct_id: 'order-user' }],
    )
    expect(events[0]).toMatchObject({ event: 'ordered!', properties: { trail: ['first', 'second'] } })
  })

  it('disables an app that fails on too many events in a row, says so, and runs it on nothing after', async () => {
    const { events, warnings, installed } = await withApps(
      [
        {
          name: 'broken',
          source:
            'function processEvent(e) { e.properties.seen = true; if (e.properties.fail) throw new Error("broken"); return e }',
        },
      ],
      [
        { event: 'e', distinct_id: 'd-1', properties: { fail: true } },
        { event: 'e', distinct_id: 'd-2', properties: { fail: false } },
        ...Array.from({ length: disableAfterFailures }, (_, i) => ({
          event: 'e',
          distinct_id: `d-${i + 3}`,
          properties: { fail: true },
        })),
        { event: 'e', distinct_id: 'after', properties: { fail: false } },
      ],
    )
    // a success in between starts the count again
    expect(warnings.filter((w) => w.type === 'app_failed')).toHaveLength(1 + disableAfterFailures)
    expect(warnings.filter((w) => w.type === 'app_disabled')).toEqual([
      {
        type: 'app_disabled',
        details: expect.objectContaining({
          appName: 'broken',
          consecutiveFailures: disableAfterFailures,
          error: 'Error: broken',
        }),
      },
    ])
    expect(events.find((e) => e.distinct_id === 'after')?.properties.seen).toBeUndefined()
    expect(events.find((e) => e.distinct_id === 'd-2')?.properties.seen).toBe(true)
    expect((await store.get(team, installed[0]!.id))?.enabled).toBe(false)
    expect((await store.logs(team, installed[0]!.id, 1))[0]?.message).toMatch(
      /^disabled after failing on 3 events in a row/,
    )
  })

  it('waits, setting nothing aside, while the database the apps are read from is away', async () => {
    const away = new Kysely<PostgresTables>({
      dialect: withTypedFailures(
        new PostgresDialect({
          pool: new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/sluice_test' }),
        }),
      ),
    })
    try {
      const [letters, consumed] = [
        await end(Topics.deadLetters),
        await postgresIdentityStore(db).consumedOffset('ingest', Topics.commands, 0),
      ]
      const batch = await append([{ event: 'waiting', distinct_id: 'patient' }])
      const failure = await ingest(batch, undefined, postgresAppStore(away)).catch((error: unknown) => error)
      expect(failure).toBeInstanceOf(DependencyUnavailableError)
      expect(await end(Topics.deadLetters)).toBe(letters)
      expect(await postgresIdentityStore(db).consumedOffset('ingest', Topics.commands, 0)).toBe(consumed)
      // back: the batch is ingested as if nothing happened
      expect(await ingest(batch)).toMatchObject({ ingested: 1, deadLettered: 0 })
    } finally {
      await away.destroy()
    }
  })

  it('records what ran, so a replay runs the versions that ran then — not the edited app, not apps added since', async () => {
    const version1 =
      'function processEvent(e) { e.properties.version = 1; e.properties.random = Math.random(); e.properties.at = new Date().toISOString(); return e }'
    const first = await withApps(
      [{ name: 'versioned', source: version1 }],
      [{ event: 'replayed', distinct_id: 'r-1' }],
    )
    const app = first.installed[0]!
    await store.update(team, app.id, { source: version1.replace('version = 1', 'version = 2') })
    const eventsFrom = await end(Topics.events)
    const second = await append([{ event: 'replayed', distinct_id: 'r-2' }])
    await ingest(second)
    const edited = await readAfter<EventRow>(Topics.events, eventsFrom)
    expect(JSON.parse(edited[0]!.properties)).toMatchObject({ version: 2 })
    // since then: the app edited again, and another app added
    await store.update(team, app.id, { source: version1.replace('version = 1', 'version = 3') })
    await store.create(team, {
      name: 'late',
      source: 'function processEvent() { return null }',
      config: {},
      enabled: true,
    })

    const applied = await postgresIdentityStore(db).appliedBatches('ingest')
    const records = await store.recordedRuns('ingest')
    const replayed = recordedAppVersions({
      store,
      applied,
      records,
      current: currentAppVersions(createEnabledApps(store)),
    })
    const replayFrom = await end(Topics.events)
    await postgresIdentityStore(db).reset()
    for (const batch of [first.batch, second]) await ingest(batch, replayed)
    const again = (await readAfter<EventRow>(Topics.events, replayFrom)).map((e) => JSON.parse(e.properties))
    expect(again).toEqual([first.events[0]!.properties, JSON.parse(edited[0]!.properties)])
    expect(again.map((p) => p.version)).toEqual([1, 2])
  })
})
