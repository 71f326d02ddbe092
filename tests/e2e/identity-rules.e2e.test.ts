import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, type SluiceProcess, startSluiceProcess } from '../support/sluice-process.ts'

type Person = {
  uuid: string
  distinct_ids: string[]
  properties: Record<string, unknown>
  is_identified: boolean
  created_at: string
}
type Warning = { type: string; details: Record<string, unknown> }
type Event = { event: string; distinct_id: string; person_id: string; properties: Record<string, unknown> }

/**
 * PostHog's person rules, each checked through a running sluice as an SDK user meets them: events
 * over HTTP, answers from the query API. One partition keeps every request in the order sent, so
 * each scenario reads as the sequence of calls an app would make.
 */
describe('PostHog identity rules through a running sluice', () => {
  let sluice: SluiceProcess
  let second = 0
  const at = () => new Date(Date.UTC(2026, 10, 1, 12, 0, ++second)).toISOString()

  const send = async (event: string, distinctId: string, properties: Record<string, unknown> = {}) => {
    const response = await fetch(`${sluice.url}/batch/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        api_key: sluice.credentials.project_token,
        batch: [{ event, distinct_id: distinctId, properties, timestamp: at() }],
      }),
    })
    expect(response.status).toBe(200)
  }
  const project = () => `/api/projects/${sluice.credentials.project_id}`
  const person = async (distinctId: string) =>
    (
      await sluice.api<{ results: Person[] }>(
        `${project()}/persons/?distinct_id=${encodeURIComponent(distinctId)}`,
      )
    ).body.results[0]
  const warnings = async (type: string) =>
    (await sluice.api<{ results: Warning[] }>(`${project()}/ingestion_warnings/`)).body.results.filter(
      (w) => w.type === type,
    )
  const events = async (distinctId: string) =>
    (
      await sluice.api<{ results: Event[] }>(
        `${project()}/events/?distinct_id=${encodeURIComponent(distinctId)}`,
      )
    ).body.results

  beforeAll(async () => {
    sluice = await startSluiceProcess({ env: { SLUICE_PARTITIONS: '1' } })

    // identify merges the anonymous person into the identified one
    await send('pageview', 'anon-1', { $set: { plan: 'free' } })
    await send('$identify', 'user-1', { $anon_distinct_id: 'anon-1', $set: { email: 'u1@example.com' } })
    // $identify without $anon_distinct_id only updates properties
    await send('$identify', 'plain-1', { $set: { name: 'Plain' } })
    // $create_alias merges the alias into the event's person
    await send('pageview', 'alias-target')
    await send('$create_alias', 'alias-owner', { alias: 'alias-target' })
    // a merge into an identified person is refused unless it is $merge_dangerously
    await send('$identify', 'user-a', { $anon_distinct_id: 'anon-a', $set: { side: 'a', a_only: 1 } })
    await send('$identify', 'user-b', { $anon_distinct_id: 'anon-b', $set: { side: 'b', b_only: 1 } })
    await send('$identify', 'user-b', { $anon_distinct_id: 'user-a' })
    await send('$merge_dangerously', 'user-b', { alias: 'user-a' })
    // illegal ids are never merged on, in any casing, but their events are ingested
    await send('$identify', 'user-c', { $anon_distinct_id: 'UNDEFINED' })
    await send('$identify', 'user-c', { $anon_distinct_id: '"Anonymous"' })
    await send('pageview', 'null')
    // $unset next to $set in one event
    await send('pageview', 'unset-1', { $set: { plan: 'free' } })
    await send('pageview', 'unset-1', { $set: { plan: 'pro', fresh: 1 }, $unset: ['plan', 'fresh'] })
    // $set_once never overrides, and fills a null
    await send('pageview', 'once-1', { $set_once: { first: 'a' }, $set: { utm_source: null } })
    await send('pageview', 'once-1', { $set_once: { first: 'b', utm_source: 'ads' } })
    // personless events create no person; a later identify gives their id one of the same uuid
    await send('pageview', 'visitor-1', { $process_person_profile: false, $set: { ignored: true } })
    await send('$identify', 'user-v', { $anon_distinct_id: 'visitor-1' })
    // groups: $groupidentify sets properties, $groups stamps events
    await send('$groupidentify', 'user-g', {
      $group_type: 'company',
      $group_key: 'acme',
      $group_set: { size: 10 },
    })
    await send('$groupidentify', 'user-g', {
      $group_type: 'company',
      $group_key: 'acme',
      $group_set: { plan: 'x' },
    })
    await send('clicked', 'user-g', { $groups: { company: 'acme' } })
    await send('done', 'marker')
    await eventually(async () => ((await events('marker')).length === 1 ? true : undefined), 60_000)
  })
  afterAll(async () => {
    await sluice?.stop()
  })

  it('$identify merges the anonymous person into the identified one', async () => {
    const identified = await person('user-1')
    expect(identified?.distinct_ids.sort()).toEqual(['anon-1', 'user-1'])
    expect(identified?.is_identified).toBe(true)
    expect(identified?.properties).toMatchObject({ plan: 'free', email: 'u1@example.com' })
    // the anonymous events now belong to the same person
    expect((await events('anon-1'))[0]?.person_id).toBe(identified?.uuid)
  })

  it('$identify without $anon_distinct_id only sets properties, and does not identify', async () => {
    const plain = await person('plain-1')
    expect(plain?.properties).toMatchObject({ name: 'Plain' })
    expect(plain?.is_identified).toBe(false)
  })

  it('$create_alias merges the alias into the person of the event', async () => {
    expect((await person('alias-owner'))?.distinct_ids.sort()).toEqual(['alias-owner', 'alias-target'])
  })

  it('refuses to merge an identified person except with $merge_dangerously, which keeps the target side', async () => {
    const [refused] = await warnings('cannot_merge_already_identified')
    expect(refused?.details).toMatchObject({
      sourcePersonDistinctId: 'user-a',
      targetPersonDistinctId: 'user-b',
    })
    const merged = await person('user-a')
    expect(merged?.distinct_ids.sort()).toEqual(['anon-a', 'anon-b', 'user-a', 'user-b'])
    expect(merged?.properties).toMatchObject({ side: 'b', a_only: 1, b_only: 1 })
    expect((await person('anon-b'))?.uuid).toBe(merged?.uuid)
  })

  it('never merges on an illegal distinct id, in any casing, and still ingests its events', async () => {
    const illegal = await warnings('cannot_merge_with_illegal_distinct_id')
    expect(illegal.map((w) => w.details.illegalDistinctId).sort()).toEqual(['"Anonymous"', 'UNDEFINED'])
    expect((await person('user-c'))?.distinct_ids).toEqual(['user-c'])
    expect(await events('null')).toHaveLength(1)
  })

  it('$unset removes a key the person had and keeps one the same event sets for the first time', async () => {
    const properties = (await person('unset-1'))?.properties
    expect(properties).not.toHaveProperty('plan')
    expect(properties).toMatchObject({ fresh: 1 })
  })

  it('$set_once never overrides a value, and fills a null', async () => {
    expect((await person('once-1'))?.properties).toMatchObject({ first: 'a', utm_source: 'ads' })
  })

  it('personless events create no person, and their id later joins a person of the uuid they carried', async () => {
    const [personless] = await events('visitor-1')
    const identified = await person('user-v')
    expect(identified?.distinct_ids.sort()).toEqual(['user-v', 'visitor-1'])
    expect(identified?.properties).not.toHaveProperty('ignored')
    expect(personless?.person_id).toBe(identified?.uuid)
  })

  it('groups get their properties from $groupidentify, and events their $group_N from $groups', async () => {
    const { body } = await sluice.api<{ results: { group_key: string; group_properties: object }[] }>(
      `${project()}/groups/?group_type_index=0`,
    )
    expect(body.results).toEqual([
      expect.objectContaining({ group_key: 'acme', group_properties: { size: 10, plan: 'x' } }),
    ])
    const clicked = (await events('user-g')).find((e) => e.event === 'clicked')
    expect(clicked?.properties.$group_0).toBe('acme')
  })
})
