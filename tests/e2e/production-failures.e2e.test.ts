import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
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

const run = promisify(execFile)
const outputsOf = (processes: Record<string, SluiceProcess>) =>
  Object.entries(processes)
    .map(([role, p]) => `--- ${role} (exit ${p.child.exitCode}) ---\n${p.output().slice(-4000)}`)
    .join('\n')
const kafkaScript = new URL('../../scripts/kafka.sh', import.meta.url).pathname

/** Failures in production mode: an ingest process killed mid-batch, and Kafka going away for a while. */
describe('production mode under failure', async () => {
  const runs =
    (await kafkaAvailable()) &&
    serviceAvailable('PostgreSQL', (await postgresServerReachable()) === null, postgresServerUrl)
  const cleanups: (() => Promise<unknown>)[] = []
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
  })

  async function setup(bootstrap: string) {
    const database = await createTestDatabase('sluice_fail_test')
    cleanups.push(database.drop)
    const dataDir = await mkdtemp(join(tmpdir(), 'sluice-fail-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const services = [
      '--kafka',
      bootstrap,
      '--postgres',
      database.url,
      '--kafka-prefix',
      `fail_${Date.now().toString(36)}_`,
    ]
    const credentials = JSON.parse((await sluiceCli(['init', '--json', ...services])).stdout) as Credentials
    const start = async (roles: string) => {
      const process = await startSluiceProcess({
        dataDir,
        credentials,
        args: ['--roles', roles, '--partitions', '4', ...services],
      })
      cleanups.push(() => process.stop())
      return process
    }
    return { dataDir, services, credentials, start }
  }

  const send = (capture: SluiceProcess, token: string, from: number, count: number) =>
    fetch(`${capture.url}/batch/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        api_key: token,
        batch: Array.from({ length: count }, (_, i) => ({
          event: 'load',
          distinct_id: `user-${(from + i) % 300}`,
          properties: { n: from + i, $set: { last: from + i } },
        })),
      }),
    })

  it('loses and doubles nothing when an ingest process is SIGKILLed mid-batch while another runs', async (ctx) => {
    if (!runs) return ctx.skip()
    const { dataDir, services, credentials, start } = await setup(kafkaBootstrap)
    const [capture, api, victim, survivor] = await Promise.all([
      start('capture'),
      start('project,api'),
      start('ingest'),
      start('ingest'),
    ])
    const total = 3000
    for (let sent = 0; sent < total; sent += 100) {
      expect((await send(capture, credentials.project_token, sent, 100)).status).toBe(200)
      if (sent === 1000) victim.child.kill('SIGKILL')
    }
    const count = async () => {
      const { body } = await api.api<{ results: { id: string }[] }>(
        `/api/projects/${credentials.project_id}/events/?event=load&limit=100000`,
      )
      return body.results
    }
    let seen = 0
    const events = await eventually(
      async () => {
        const results = await count()
        seen = results.length
        return results.length >= total ? results : undefined
      },
      150_000,
      `all ${total} events`,
      () => `${seen} arrived\n${outputsOf({ capture, api, victim, survivor })}`,
    )
    expect(events).toHaveLength(total)
    expect(new Set(events.map((e) => e.id)).size).toBe(total)
    await new Promise((resolve) => setTimeout(resolve, 2000))
    await api.stop()
    const { stdout } = await sluiceCli(['verify', '--json', '--data-dir', dataDir, ...services])
    expect(JSON.parse(stdout)).toMatchObject({ agree: true, persons: 300, differences: [] })
  }, 240_000)

  it('answers 503 while Kafka is away, accepts nothing it cannot make durable, and recovers by itself', async (ctx) => {
    if (!runs) return ctx.skip()
    // a broker of its own, so stopping it disturbs no other test
    const env = {
      ...process.env,
      SLUICE_KAFKA_PORT: '19192',
      SLUICE_KAFKA_DATA: await mkdtemp(join(tmpdir(), 'sluice-kafka-')),
    }
    await run('bash', [kafkaScript, '--daemon'], { env, timeout: 300_000 })
    cleanups.push(() => run('bash', [kafkaScript, '--stop'], { env }))
    const { credentials, start } = await setup('127.0.0.1:19192')
    const [capture, api, ingest] = await Promise.all([
      start('capture'),
      start('project,api'),
      start('ingest'),
    ])
    const outputs = () => outputsOf({ capture, api, ingest })
    expect((await send(capture, credentials.project_token, 0, 10)).status).toBe(200)

    await run('bash', [kafkaScript, '--stop'], { env })
    const during = await send(capture, credentials.project_token, 10, 10)
    expect(during.status).toBe(503)
    expect(await during.json()).toMatchObject({ code: 'log_unavailable' })

    await run('bash', [kafkaScript, '--daemon'], { env, timeout: 120_000 })
    const after = await eventually(
      async () => {
        const response = await send(capture, credentials.project_token, 20, 10)
        return response.status === 200 ? response.status : undefined
      },
      90_000,
      'capture to accept again',
      outputs,
    )
    expect(after).toBe(200)
    const events = await eventually(
      async () => {
        const { body } = await api.api<{ results: { properties: { n: number } }[] }>(
          `/api/projects/${credentials.project_id}/events/?event=load&limit=1000`,
        )
        return body.results.length >= 20 ? body.results : undefined
      },
      150_000,
      'the accepted events',
      outputs,
    )
    // exactly the accepted batches: 0–9 and 20–29, nothing of the refused one
    expect(events.map((e) => e.properties.n).sort((a, b) => a - b)).toEqual([
      ...Array(10).keys(),
      ...Array.from({ length: 10 }, (_, i) => 20 + i),
    ])
  }, 420_000)
})
