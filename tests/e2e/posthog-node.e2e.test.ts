import { PostHog } from 'posthog-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, type SluiceProcess, startSluiceProcess } from '../support/sluice-process.ts'

interface Person {
  uuid: string
  distinct_ids: string[]
  properties: Record<string, unknown>
  is_identified: boolean
}
interface EventResult {
  id: string
  event: string
  distinct_id: string
  properties: Record<string, unknown>
  person_id: string
}

describe('sluice started as a user starts it, fed by the real posthog-node client', () => {
  let sluice: SluiceProcess
  let posthog: PostHog

  beforeAll(async () => {
    sluice = await startSluiceProcess()
    posthog = new PostHog(sluice.credentials.project_token, {
      host: sluice.url,
      flushAt: 1,
      flushInterval: 0,
    })
  })
  afterAll(async () => {
    await posthog?.shutdown()
    await sluice?.stop()
  })

  const persons = (distinctId: string) =>
    sluice.api<{ results: Person[] }>(
      `/api/projects/${sluice.credentials.project_id}/persons/?distinct_id=${encodeURIComponent(distinctId)}`,
    )
  const events = (distinctId: string) =>
    sluice.api<{ results: EventResult[] }>(
      `/api/projects/${sluice.credentials.project_id}/events/?distinct_id=${encodeURIComponent(distinctId)}`,
    )

  it('answers health checks', async () => {
    expect((await fetch(`${sluice.url}/_liveness`)).status).toBe(200)
    const readiness = await fetch(`${sluice.url}/_readiness`)
    expect(readiness.status).toBe(200)
    expect(await readiness.json()).toMatchObject({ status: 'ok' })
  })

  it('captures an event, creates its person and serves both through the API', async () => {
    posthog.capture({
      distinctId: 'user-e2e-1',
      event: 'signed_up',
      properties: { plan: 'pro', $set: { email: 'a@example.com' } },
    })
    await posthog.flush()

    const event = await eventually(
      async () => (await events('user-e2e-1')).body.results.find((e) => e.event === 'signed_up'),
      30_000,
      'the event',
    )
    expect(event.properties).toMatchObject({ plan: 'pro', $lib: 'posthog-node' })
    const person = await eventually(
      async () => (await persons('user-e2e-1')).body.results[0],
      30_000,
      'the person',
    )
    expect(person.distinct_ids).toEqual(['user-e2e-1'])
    expect(person.properties).toMatchObject({ email: 'a@example.com' })
    expect(event.person_id).toBe(person.uuid)
  })

  it('identify merges the anonymous person into the identified one', async () => {
    posthog.capture({ distinctId: 'anon-e2e-2', event: 'page_viewed' })
    await posthog.flush()
    await eventually(
      async () => (await persons('anon-e2e-2')).body.results[0],
      30_000,
      'the anonymous person',
    )
    posthog.identify({
      distinctId: 'user-e2e-2',
      properties: { $anon_distinct_id: 'anon-e2e-2', name: 'Ada' },
    })
    await posthog.flush()
    // persons and distinct ids are projected from separate topics: wait until both have arrived
    const person = await eventually(
      async () =>
        (await persons('user-e2e-2')).body.results.find(
          (p) => p.distinct_ids.includes('anon-e2e-2') && p.is_identified,
        ),
      30_000,
      'the merged, identified person',
    )
    expect(person.distinct_ids.sort()).toEqual(['anon-e2e-2', 'user-e2e-2'])
    expect(person.is_identified).toBe(true)
  })

  it('records the client ip, and stops once the project anonymizes ips', async () => {
    posthog.capture({ distinctId: 'ip-user', event: 'with_ip' })
    await posthog.flush()
    const withIp = await eventually(
      async () => (await events('ip-user')).body.results.find((e) => e.event === 'with_ip'),
      30_000,
      'event',
    )
    expect(withIp.properties.$ip).toBe('127.0.0.1')

    const patched = await sluice.api<{ anonymize_ips: boolean }>(
      `/api/projects/${sluice.credentials.project_id}/`,
      {
        method: 'PATCH',
        body: JSON.stringify({ anonymize_ips: true }),
      },
    )
    expect(patched).toMatchObject({ status: 200, body: { anonymize_ips: true } })
    posthog.capture({ distinctId: 'ip-user', event: 'without_ip' })
    await posthog.flush()
    const withoutIp = await eventually(
      async () => (await events('ip-user')).body.results.find((e) => e.event === 'without_ip'),
      30_000,
      'event',
    )
    expect(withoutIp.properties).not.toHaveProperty('$ip')
  })

  it('refuses the API without a valid key and across projects', async () => {
    const response = await fetch(`${sluice.url}/api/projects/${sluice.credentials.project_id}/events/`)
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ type: 'authentication_error' })
    const other = await sluice.api(`/api/projects/${sluice.credentials.project_id + 1}/events/`)
    expect(other.status).toBe(403)
  })
})
