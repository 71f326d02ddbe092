import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PostHog } from 'posthog-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { kafkaAvailable, kafkaBootstrap } from '../support/kafka-broker.ts'
import { createTestDatabase, postgresServerReachable, postgresServerUrl } from '../support/postgres-server.ts'
import { serviceAvailable } from '../support/services.ts'
import {
  type Credentials,
  eventually,
  type SluiceProcess,
  sluiceCli,
  startSluiceProcess,
} from '../support/sluice-process.ts'

interface Person {
  uuid: string
  distinct_ids: string[]
  properties: Record<string, unknown>
  is_identified: boolean
}

/**
 * Production mode: Apache Kafka and the PostgreSQL server, each role in its own process — one
 * capture, two ingest processes sharing the command topic as one consumer group, and project+api
 * (embedded chDB) — driven by the real posthog-node client.
 */
describe('production mode on Kafka and PostgreSQL, roles as separate processes', async () => {
  const runs =
    (await kafkaAvailable()) &&
    serviceAvailable('PostgreSQL', (await postgresServerReachable()) === null, postgresServerUrl)
  const processes: SluiceProcess[] = []
  let dropDatabase: (() => Promise<void>) | undefined
  let dataDir: string
  let services: string[]
  let credentials: Credentials
  let capture: SluiceProcess
  let api: SluiceProcess
  let posthog: PostHog

  beforeAll(async () => {
    if (!runs) return
    const database = await createTestDatabase('sluice_e2e_test')
    dropDatabase = database.drop
    dataDir = await mkdtemp(join(tmpdir(), 'sluice-prod-'))
    services = [
      '--kafka',
      kafkaBootstrap,
      '--postgres',
      database.url,
      '--kafka-prefix',
      `e2e_${Date.now().toString(36)}_`,
    ]
    credentials = JSON.parse((await sluiceCli(['init', '--json', ...services])).stdout) as Credentials
    const start = (roles: string, extra: string[] = []) =>
      startSluiceProcess({
        dataDir,
        credentials,
        args: ['--roles', roles, '--partitions', '4', ...services, ...extra],
      }).then((p) => {
        processes.push(p)
        return p
      })
    ;[capture, api] = await Promise.all([
      start('capture'),
      start('project,api'),
      start('ingest'),
      start('ingest'),
    ])
    posthog = new PostHog(credentials.project_token, { host: capture.url, flushAt: 20, flushInterval: 0 })
  })
  afterAll(async () => {
    await posthog?.shutdown()
    await Promise.all(processes.map((p) => p.stop()))
    await dropDatabase?.()
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  const persons = async (distinctId: string) =>
    (
      await api.api<{ results: Person[] }>(
        `/api/projects/${credentials.project_id}/persons/?distinct_id=${encodeURIComponent(distinctId)}`,
      )
    ).body.results

  it('captures, ingests and serves events and merged persons across processes', async (ctx) => {
    if (!runs) return ctx.skip()
    for (let i = 0; i < 40; i++)
      posthog.capture({ distinctId: `prod-anon-${i}`, event: 'viewed', properties: { i } })
    await posthog.flush()
    for (let i = 0; i < 40; i++)
      posthog.identify({
        distinctId: `prod-user-${i}`,
        properties: { $anon_distinct_id: `prod-anon-${i}`, n: i },
      })
    await posthog.flush()

    for (const i of [0, 17, 39]) {
      const person = await eventually(
        // persons and distinct ids are projected from separate topics: wait until both have arrived
        async () =>
          (await persons(`prod-user-${i}`)).find(
            (p) => p.distinct_ids.includes(`prod-anon-${i}`) && p.is_identified,
          ),
        90_000,
        `merged person ${i}`,
      )
      expect(person.distinct_ids.sort()).toEqual([`prod-anon-${i}`, `prod-user-${i}`])
      expect(person.is_identified).toBe(true)
    }
    const events = await eventually(
      async () => {
        const { body } = await api.api<{ results: unknown[] }>(
          `/api/projects/${credentials.project_id}/events/?event=viewed&limit=1000`,
        )
        return body.results.length === 40 ? body.results : undefined
      },
      90_000,
      'all 40 events',
    )
    expect(events).toHaveLength(40)
  })

  it('verify agrees once the projector has caught up', async (ctx) => {
    if (!runs) return ctx.skip()
    await eventually(
      async () => {
        const { body } = await api.api<{ results: Person[] }>(
          `/api/projects/${credentials.project_id}/persons/?limit=1000`,
        )
        return body.results.length === 40 ? true : undefined
      },
      90_000,
      '40 persons in ClickHouse',
    )
    await new Promise((resolve) => setTimeout(resolve, 1000))
    await api.stop()
    const { stdout } = await sluiceCli(['verify', '--json', '--data-dir', dataDir, ...services])
    const report = JSON.parse(stdout) as { agree: boolean; persons: number; differences: unknown[] }
    expect(report).toMatchObject({ agree: true, persons: 40, differences: [] })
  })
})
