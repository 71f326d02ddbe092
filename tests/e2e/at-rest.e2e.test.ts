import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openLog, topicSpecs } from '../../adapters/runtime/backends.ts'
import { resolveConfig } from '../../adapters/runtime/config.ts'
import type { Logger } from '../../ports/logger.ts'
import { filesHolding, logRecordsAsText, postgresRowsAsText, postJson } from '../support/at-rest.ts'
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

/** The addresses of clients of the project that anonymizes IPs: none may be kept anywhere. */
const privateIps = { forwarded: '203.0.113.51', socket: '127.0.0.51', sentAsProperty: '198.51.100.51' }
/** The addresses of clients of the project that does not: its events show them. */
const publicIps = { forwarded: '203.0.113.52', socket: '127.0.0.52', sentAsProperty: '198.51.100.52' }

interface Event {
  event: string
  distinct_id: string
  properties: Record<string, unknown>
}

/**
 * Two projects, the first anonymizing IPs, the second not; three personal API keys. Sends each
 * project one event through a proxy (X-Forwarded-For, with an `$ip` property of the client's own)
 * and one straight from a client's socket, and waits until all four are queryable.
 */
async function trafficOfTwoProjects(
  dataDir: string,
  services: string[],
): Promise<{ sluice: SluiceProcess; anonymizing: Credentials; open: Credentials; keys: string[] }> {
  const cli = async <T>(args: string[]) =>
    JSON.parse((await sluiceCli([...args, '--json', '--data-dir', dataDir, ...services])).stdout) as T
  const anonymizing = await cli<Credentials>(['init'])
  const open = await cli<Credentials>(['projects', 'create', '--name', 'Open'])
  const extra = await cli<{ personal_api_key: string }>(['keys', 'create'])
  const sluice = await startSluiceProcess({ dataDir, credentials: anonymizing, args: services })
  await settings(sluice, anonymizing, true)

  const send = async (project: Credentials, distinctId: string, ips: typeof privateIps) => {
    const batch = (event: Record<string, unknown>) => ({ api_key: project.project_token, batch: [event] })
    const proxied = {
      event: 'visited',
      distinct_id: `${distinctId}-proxied`,
      properties: { $ip: ips.sentAsProperty },
    }
    const headers = { 'x-forwarded-for': ips.forwarded }
    expect(await postJson(`${sluice.url}/batch/`, batch(proxied), { headers })).toBe(200)
    const direct = { event: 'visited', distinct_id: `${distinctId}-direct` }
    expect(await postJson(`${sluice.url}/batch/`, batch(direct), { localAddress: ips.socket })).toBe(200)
  }
  await send(anonymizing, 'private', privateIps)
  await send(open, 'public', publicIps)
  for (const project of [anonymizing, open])
    await eventually(
      async () => ((await events(sluice, project)).length === 2 ? true : undefined),
      60_000,
      'events',
    )
  return {
    sluice,
    anonymizing,
    open,
    keys: [anonymizing.personal_api_key, open.personal_api_key, extra.personal_api_key],
  }
}

async function events(sluice: SluiceProcess, project: Credentials): Promise<Event[]> {
  const response = await fetch(`${sluice.url}/api/projects/${project.project_id}/events/?limit=100`, {
    headers: { authorization: `Bearer ${project.personal_api_key}` },
  })
  const body = (await response.json()) as { results: Event[] }
  return body.results.sort((a, b) => a.distinct_id.localeCompare(b.distinct_id))
}

async function settings(sluice: SluiceProcess, project: Credentials, anonymizeIps: boolean): Promise<void> {
  const response = await fetch(`${sluice.url}/api/projects/${project.project_id}/`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${project.personal_api_key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ anonymize_ips: anonymizeIps }),
  })
  expect(response.status).toBe(200)
}

/** What the API shows of the traffic: no IP for the anonymizing project, the client's for the other. */
async function expectIpsShownAsAsked(sluice: SluiceProcess, anonymizing: Credentials, open: Credentials) {
  for (const event of await events(sluice, anonymizing)) expect(event.properties).not.toHaveProperty('$ip')
  expect((await events(sluice, open)).map((e) => [e.distinct_id, e.properties.$ip])).toEqual([
    ['public-direct', publicIps.socket],
    // the client's own $ip wins over the address capture sees, as in PostHog
    ['public-proxied', publicIps.sentAsProperty],
  ])
}

const secretsOf = (keys: string[]) => [...Object.values(privateIps), ...keys]

describe('what an embedded data dir keeps at rest', () => {
  let sluice: SluiceProcess | undefined
  let dataDir: string | undefined
  afterAll(async () => {
    await sluice?.stop()
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  it('holds no IP of an anonymizing project and no personal API key; replay gives the same events after the settings flip', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sluice-at-rest-'))
    const traffic = await trafficOfTwoProjects(dataDir, [])
    sluice = traffic.sluice
    const { anonymizing, open, keys } = traffic
    await expectIpsShownAsAsked(sluice, anonymizing, open)
    const before = { anonymizing: await events(sluice, anonymizing), open: await events(sluice, open) }

    // the settings flip after the traffic: replaying it must not change what capture decided then
    await settings(sluice, anonymizing, false)
    await settings(sluice, open, true)
    await sluice.stop()
    const { stdout } = await sluiceCli(['replay', '--data-dir', dataDir])
    expect(stdout).toMatch(/Replay done/)
    sluice = await startSluiceProcess({ dataDir, credentials: anonymizing })
    const replayed = sluice
    await eventually(
      async () => ((await events(replayed, open)).length === 2 ? true : undefined),
      60_000,
      'replayed events',
    )
    expect({ anonymizing: await events(sluice, anonymizing), open: await events(sluice, open) }).toEqual(
      before,
    )
    await sluice.stop()

    const found = await filesHolding(dataDir, [
      ...secretsOf(keys),
      publicIps.forwarded,
      anonymizing.project_token,
    ])
    expect(Object.keys(found).filter((text) => secretsOf(keys).includes(text))).toEqual([])
    // the search does read where sluice keeps what it was sent: the other project's client is there
    expect(found[publicIps.forwarded]?.length).toBeGreaterThan(0)
    expect(found[anonymizing.project_token]?.length).toBeGreaterThan(0)
  })
})

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} }

describe('what production mode keeps at rest: PostgreSQL, Kafka and the data dir', async () => {
  const runs =
    (await kafkaAvailable()) &&
    serviceAvailable('PostgreSQL', (await postgresServerReachable()) === null, postgresServerUrl)
  let sluice: SluiceProcess | undefined
  let dataDir: string | undefined
  let dropDatabase: (() => Promise<void>) | undefined
  afterAll(async () => {
    await sluice?.stop()
    await dropDatabase?.()
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  it.runIf(runs)('holds no IP of an anonymizing project and no personal API key anywhere', async () => {
    const database = await createTestDatabase('sluice_at_rest_test')
    dropDatabase = database.drop
    dataDir = await mkdtemp(join(tmpdir(), 'sluice-at-rest-prod-'))
    const kafkaPrefix = `at_rest_${Date.now().toString(36)}_`
    const services = ['--kafka', kafkaBootstrap, '--postgres', database.url, '--kafka-prefix', kafkaPrefix]
    const traffic = await trafficOfTwoProjects(dataDir, services)
    sluice = traffic.sluice
    const { anonymizing, open, keys } = traffic
    await expectIpsShownAsAsked(sluice, anonymizing, open)
    await sluice.stop()

    const rows = await postgresRowsAsText(database.url)
    for (const secret of secretsOf(keys)) expect(rows).not.toContain(secret)
    expect(rows).toContain(anonymizing.project_token)

    const config = resolveConfig({ kafka: kafkaBootstrap, kafkaPrefix, dataDir })
    const log = await openLog(config, quiet)
    const records = await logRecordsAsText(
      log,
      topicSpecs(config).map((topic) => topic.name),
    ).finally(() => log.close())
    for (const secret of secretsOf(keys)) expect(records).not.toContain(secret)
    expect(records).toContain(publicIps.forwarded)

    const found = await filesHolding(dataDir, secretsOf(keys))
    expect(found).toEqual({})
  })
})
