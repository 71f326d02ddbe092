import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PostHog } from 'posthog-node'
import { afterAll, describe, expect, it } from 'vitest'
import { openPostgres } from '../../adapters/postgres/connect.ts'
import { postgresAppStore } from '../../projections/postgres/app-store.ts'
import { eventually, type SluiceProcess, sluiceCli, startSluiceProcess } from '../support/sluice-process.ts'

interface EventView {
  id: string
  event: string
  distinct_id: string
  properties: Record<string, unknown>
  timestamp: string
  person_id: string
}
interface PersonView {
  properties: Record<string, unknown>
}

/** An app whose output depends on everything that must stay the same in a replay: its version, Date, Math.random. */
const appSource = (version: number) => `
  export function processEvent(event, meta) {
    if (event.event === 'bot visit') return null
    if (event.properties.explode) throw new Error('exploded on ' + event.distinct_id)
    console.log('version ${version} saw', event.event)
    event.properties.app_version = ${version}
    event.properties.tag = meta.config.tag
    event.properties.lucky = Math.random()
    event.properties.seen_at = new Date().toISOString()
    event.properties.$set = { ...event.properties.$set, tagged_by: 'v${version}' }
    return event
  }`

describe('apps, end to end: installed through the API, run by ingest, replayed as they ran', () => {
  let sluice: SluiceProcess | undefined
  let dataDir: string | undefined
  afterAll(async () => {
    await sluice?.stop()
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  it('an app edited between two events: each event keeps the version it met, in the projections and after sluice replay', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sluice-apps-'))
    const first = await startSluiceProcess({ dataDir })
    sluice = first
    const project = first.credentials.project_id
    const posthog = new PostHog(first.credentials.project_token, {
      host: first.url,
      flushAt: 1,
      flushInterval: 0,
    })
    const eventsNamed = async (event: string) =>
      (
        await first.api<{ results: EventView[] }>(
          `/api/projects/${project}/events/?event=${encodeURIComponent(event)}`,
        )
      ).body.results
    const installed = await first.api<{ id: number; version: number }>(`/api/projects/${project}/apps/`, {
      method: 'POST',
      body: JSON.stringify({ name: 'tagger', source: appSource(1), config: { tag: 'alpha' } }),
    })
    expect(installed.status).toBe(201)
    const appId = installed.body.id

    posthog.capture({ distinctId: 'user-1', event: 'first', properties: { $set: { plan: 'free' } } })
    posthog.capture({ distinctId: 'bot-1', event: 'bot visit' })
    posthog.capture({ distinctId: 'user-2', event: 'broken', properties: { explode: true } })
    await posthog.flush()
    const [firstEvent] = await eventually(async () => {
      const found = await eventsNamed('first')
      return found.length === 1 && (await eventsNamed('broken')).length === 1 ? found : undefined
    })
    expect(firstEvent?.properties).toMatchObject({
      app_version: 1,
      tag: 'alpha',
      seen_at: expect.any(String),
    })

    const edited = await first.api<{ version: number }>(`/api/projects/${project}/apps/${appId}/`, {
      method: 'PATCH',
      body: JSON.stringify({ source: appSource(2), config: { tag: 'beta' } }),
    })
    expect(edited.body.version).toBe(2)
    posthog.capture({ distinctId: 'user-1', event: 'second' })
    await posthog.shutdown()
    const [secondEvent] = await eventually(async () => {
      const found = await eventsNamed('second')
      return found.length === 1 ? found : undefined
    })
    expect(secondEvent?.properties).toMatchObject({ app_version: 2, tag: 'beta' })

    // the dropped event never arrived; the failing one arrived unchanged, with a warning and a log line
    expect(await eventsNamed('bot visit')).toEqual([])
    const [broken] = await eventsNamed('broken')
    expect(broken?.properties.app_version).toBeUndefined()
    const warnings = await eventually(async () => {
      const { body } = await first.api<{ results: { type: string; details: Record<string, unknown> }[] }>(
        `/api/projects/${project}/ingestion_warnings/`,
      )
      return body.results.length >= 2 ? body.results : undefined
    })
    expect(warnings.map((w) => w.type).sort()).toEqual(['app_failed', 'event_dropped_by_transformation'])
    expect(warnings.find((w) => w.type === 'app_failed')?.details).toMatchObject({
      appName: 'tagger',
      appVersion: 1,
      error: 'Error: exploded on user-2',
    })
    const logs = await first.api<{ results: { level: string; message: string }[] }>(
      `/api/projects/${project}/apps/${appId}/logs/`,
    )
    expect(logs.body.results.map((l) => l.message)).toEqual(
      expect.arrayContaining([
        'version 2 saw second',
        'version 1 saw first',
        'processEvent failed: Error: exploded on user-2',
      ]),
    )
    const metrics = await (await fetch(`${first.url}/metrics`)).text()
    expect(metrics).toContain(
      `sluice_app_events_total{project_id="${project}",app_id="${appId}",outcome="changed"} 2`,
    )
    expect(metrics).toContain(
      `sluice_app_events_total{project_id="${project}",app_id="${appId}",outcome="dropped"} 1`,
    )
    expect(metrics).toContain(
      `sluice_app_events_total{project_id="${project}",app_id="${appId}",outcome="failed"} 1`,
    )
    expect(metrics).toMatch(
      new RegExp(`sluice_app_event_seconds_count\\{project_id="${project}",app_id="${appId}"\\} 4`),
    )

    const person = async (at: SluiceProcess) =>
      (await at.api<{ results: PersonView[] }>(`/api/projects/${project}/persons/?distinct_id=user-1`)).body
        .results[0]
    expect((await person(first))?.properties).toMatchObject({ plan: 'free', tagged_by: 'v2' })
    const everything = async (at: SluiceProcess) =>
      (await at.api<{ results: EventView[] }>(`/api/projects/${project}/events/?limit=1000`)).body.results
    await eventually(async () => {
      const { body } = await first.api<{ consumers: { lag: number | null }[] }>('/api/ingestion_status/')
      return body.consumers.every((c) => c.lag === 0) ? true : undefined
    })
    const before = await everything(first)
    const personBefore = await person(first)
    await first.stop()

    // the app changes again before the replay: the replay still runs versions 1 and 2
    const db = await openPostgres({ kind: 'pglite', dataDir: join(dataDir, 'postgres') })
    try {
      await postgresAppStore(db).update(project, appId, { source: appSource(3), config: { tag: 'gamma' } })
    } finally {
      await db.destroy()
    }
    const { stdout } = await sluiceCli(['replay', '--data-dir', dataDir])
    expect(stdout).toMatch(/Replay done in [\d.]+ s: 3 events ingested, 1 dropped/)
    sluice = await startSluiceProcess({ dataDir })
    const again = sluice
    expect(await everything(again)).toEqual(before)
    expect(await person(again)).toEqual(personBefore)
  })
})
