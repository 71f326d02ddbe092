import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { commandsOfRequest } from '../../commands/capture/capture-request.ts'
import { createCommandIntake } from '../../commands/intake/accept-commands.ts'
import { createTokenCache, type TokenCache } from '../../commands/projects/token-cache.ts'
import type { Log, LogMessage } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'
import type { ProjectStore } from '../../ports/projects.ts'
import { postgresProjectStore } from '../../projections/postgres/project-store.ts'
import { Topics } from '../../schema/topics.ts'
import { createEmbeddedLog } from '../log/embedded/embedded-log.ts'
import { createMetrics } from '../metrics/metrics.ts'
import { type Db, openPostgres } from '../postgres/connect.ts'
import { buildHttpServer } from './server.ts'

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} }

describe('capture over HTTP (PGlite + embedded log)', () => {
  let db: Db
  let log: Log
  let token: string
  /** A project that anonymizes IPs. */
  let privateToken: string

  beforeAll(async () => {
    db = await openPostgres({ kind: 'pglite', dataDir: null })
    log = createEmbeddedLog({ path: mkdtempSync(join(tmpdir(), 'sluice-http-')) })
    await log.ensureTopics([{ name: Topics.captureRequests, partitions: 2, retention: 'forever' }])
    token = (
      await postgresProjectStore(db).createProject({
        name: 'h',
        apiToken: 'phc_http_test',
        personalApiKey: 'phx_http',
      })
    ).project.apiToken
    const projects = postgresProjectStore(db)
    const { project } = await projects.createProject({
      name: 'private',
      apiToken: 'phc_http_private',
      personalApiKey: 'phx_http_private',
    })
    await projects.update(project.id, { anonymizeIps: true })
    privateToken = project.apiToken
  })
  afterAll(async () => {
    await log.close()
    await db.destroy()
  })

  async function server(
    options: { projects?: ProjectStore; tokens?: TokenCache; log?: Log; maxPendingBytes?: number } = {},
  ): Promise<FastifyInstance> {
    const tokens = options.tokens ?? createTokenCache(options.projects ?? postgresProjectStore(db))
    return buildHttpServer({
      logger: quiet,
      metrics: createMetrics(),
      readiness: { check: async () => ({ capture: true }) },
      capture: {
        intake: createCommandIntake({
          tokens,
          log: options.log ?? log,
          logger: quiet,
          maxPendingBytes: options.maxPendingBytes,
        }),
      },
      remoteConfig: { tokens, hasFeatureFlags: async () => false },
    })
  }
  /** What capture wrote: its request records, as stored (value and headers). */
  const requestRecords = async () => {
    const records: LogMessage[] = []
    for (const [partition, end] of await log.endOffsets(Topics.captureRequests))
      records.push(...(await log.read(Topics.captureRequests, partition, 0, end)))
    return records
  }
  /** The capture messages the split makes of them. */
  const commands = async () => (await requestRecords()).flatMap((record) => commandsOfRequest(record))
  const commandCount = async () => (await commands()).length
  const body = (t = token) => JSON.stringify({ api_key: t, batch: [{ event: 'e', distinct_id: 'd' }] })
  /** The capture messages of one distinct id, serialised as the split writes them. */
  const recordsOf = async (distinctId: string) =>
    (await commands()).filter((c) => c.distinct_id === distinctId).map((c) => JSON.stringify(c))
  /** Every stored request record that holds a distinct id, value and headers together. */
  const storedWith = async (distinctId: string) =>
    (await requestRecords())
      .filter((record) => record.value.includes(`"${distinctId}"`))
      .map((record) => `${record.value} ${JSON.stringify(record.headers)}`)

  it('answers preflights and allows any origin on capture and remote config', async () => {
    const app = await server()
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/e/',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    })
    expect(preflight.statusCode).toBe(200)
    expect(preflight.headers['access-control-allow-origin']).toBe('https://shop.example')
    expect(preflight.headers['access-control-allow-headers']).toBe('content-type')
    const capture = await app.inject({
      method: 'POST',
      url: '/e/',
      headers: { origin: 'https://shop.example' },
      payload: body(),
    })
    expect(capture.statusCode).toBe(200)
    expect(capture.json()).toEqual({ status: 1 })
    expect(capture.headers['access-control-allow-origin']).toBe('https://shop.example')
    const config = await app.inject({
      method: 'GET',
      url: `/array/${token}/config.js`,
      headers: { origin: 'https://shop.example' },
    })
    expect(config.headers['access-control-allow-origin']).toBe('https://shop.example')
    expect(config.body).toContain(`window._POSTHOG_REMOTE_CONFIG[${JSON.stringify(token)}]`)
    const json = await app.inject({ method: 'GET', url: `/array/${token}/config` })
    expect(json.json()).toMatchObject({
      supportedCompression: ['gzip', 'gzip-js'],
      hasFeatureFlags: false,
      sessionRecording: false,
    })
    expect(json.json()).not.toHaveProperty('surveys')
    expect((await app.inject({ method: 'GET', url: '/array/phc_nobody/config' })).statusCode).toBe(404)
    await app.close()
  })

  it('refuses unknown tokens and bad bodies with JSON errors, and appends nothing for them', async () => {
    const app = await server()
    const before = await commandCount()
    const unknown = await app.inject({ method: 'POST', url: '/batch/', payload: body('phc_unknown') })
    expect(unknown.statusCode).toBe(401)
    expect(unknown.json()).toMatchObject({ type: 'authentication_error', code: 'invalid_token' })
    const bad = await app.inject({ method: 'POST', url: '/e/', payload: '{"batch": [' })
    expect(bad.statusCode).toBe(400)
    expect(bad.json()).toMatchObject({ type: 'validation_error', code: 'invalid_json' })
    const huge = await app.inject({ method: 'POST', url: '/e/', payload: 'x'.repeat(3 * 1024 * 1024) })
    expect(huge.statusCode).toBe(413)
    expect(await commandCount()).toBe(before)
    await app.close()
  })

  it('keeps accepting when Postgres is unreachable, passing tokens on for ingest to resolve', async () => {
    const unreachable: ProjectStore = {
      ...postgresProjectStore(db),
      findByToken: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')),
    }
    const app = await server({ projects: unreachable })
    const before = await commandCount()
    const response = await app.inject({
      method: 'POST',
      url: '/batch/',
      payload: JSON.stringify({
        api_key: 'phc_maybe_new_project',
        batch: [{ event: 'e', distinct_id: 'u' }],
      }),
    })
    expect(response.statusCode).toBe(200)
    expect(await commandCount()).toBe(before + 1)
    // undecided: whether the project anonymizes IPs is for ingest to find out
    const [passedOn] = await recordsOf('u')
    expect(JSON.parse(passedOn ?? '{}')).toMatchObject({ ip: '127.0.0.1' })
    expect(JSON.parse(passedOn ?? '{}')).not.toHaveProperty('anonymize_ips')
    await app.close()
  })

  it('writes no client IP into the log for a project that anonymizes IPs, and records the decision', async () => {
    const app = await server()
    const send = (apiKey: string, distinctId: string, headers: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url: '/batch/',
        remoteAddress: '198.51.100.61',
        headers,
        payload: JSON.stringify({
          api_key: apiKey,
          batch: [{ event: 'e', distinct_id: distinctId, properties: { $ip: '192.0.2.61' } }],
        }),
      })
    const forwarded = { 'x-forwarded-for': '203.0.113.61, 10.0.0.1' }
    for (const response of [
      await send(privateToken, 'private-forwarded', forwarded),
      await send(privateToken, 'private-socket', {}),
      await send(token, 'public-forwarded', forwarded),
      await send(token, 'public-socket', {}),
    ])
      expect(response.statusCode).toBe(200)

    const [privateForwarded, privateSocket] = [
      await recordsOf('private-forwarded'),
      await recordsOf('private-socket'),
    ]
    for (const stored of [...privateForwarded, ...privateSocket]) {
      expect(stored).not.toMatch(/198\.51\.100\.61|203\.0\.113\.61|192\.0\.2\.61/)
      expect(JSON.parse(stored)).toMatchObject({ ip: null, anonymize_ips: true })
    }
    // nor is one in what capture stored: the request records, value and headers
    for (const stored of [
      ...(await storedWith('private-forwarded')),
      ...(await storedWith('private-socket')),
    ])
      expect(stored).not.toMatch(/198\.51\.100\.61|203\.0\.113\.61|192\.0\.2\.61/)
    expect(privateForwarded).toHaveLength(1)
    expect(privateSocket).toHaveLength(1)
    const kept = [...(await recordsOf('public-forwarded')), ...(await recordsOf('public-socket'))].map(
      (stored) => JSON.parse(stored) as { ip: string; anonymize_ips: boolean; data: string },
    )
    expect(kept.map((c) => [c.ip, c.anonymize_ips])).toEqual([
      ['203.0.113.61', false],
      ['198.51.100.61', false],
    ])
    expect(kept.map((c) => JSON.parse(c.data).properties.$ip)).toEqual(['192.0.2.61', '192.0.2.61'])
    await app.close()
  })

  it('keeps anonymizing while Postgres is away, from what it last knew of the project', async () => {
    const store = postgresProjectStore(db)
    let reachable = true
    const flaky: ProjectStore = {
      ...store,
      findByToken: (apiToken) =>
        reachable ? store.findByToken(apiToken) : Promise.reject(new Error('connect ECONNREFUSED')),
    }
    // every lookup goes to the store, so the second finds it away
    const app = await server({ tokens: createTokenCache(flaky, { ttlMs: 0 }) })
    const send = (distinctId: string) =>
      app.inject({
        method: 'POST',
        url: '/batch/',
        headers: { 'x-forwarded-for': '203.0.113.62' },
        payload: JSON.stringify({ api_key: privateToken, batch: [{ event: 'e', distinct_id: distinctId }] }),
      })
    expect((await send('before-outage')).statusCode).toBe(200)
    reachable = false
    expect((await send('during-outage')).statusCode).toBe(200)
    const [stored] = await recordsOf('during-outage')
    expect(stored).not.toContain('203.0.113.62')
    expect((await storedWith('during-outage')).join()).not.toContain('203.0.113.62')
    expect(JSON.parse(stored ?? '{}')).toMatchObject({ ip: null, anonymize_ips: true })
    await app.close()
  })

  it('answers 503 and accepts nothing when the log cannot take the events', async () => {
    const closed = createEmbeddedLog({ path: mkdtempSync(join(tmpdir(), 'sluice-http-closed-')) })
    await closed.ensureTopics([{ name: Topics.captureRequests, partitions: 1, retention: 'forever' }])
    await closed.close()
    const app = await server({ log: closed })
    const response = await app.inject({ method: 'POST', url: '/batch/', payload: body() })
    expect(response.statusCode).toBe(503)
    expect(response.json()).toMatchObject({ code: 'log_unavailable' })
    await app.close()
  })

  it('sheds load with 503 instead of queueing without bound while the log is slow', async () => {
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => (release = resolve))
    const slow: Log = {
      ...log,
      append: async (topic, records) => gate.then(() => log.append(topic, records)),
    }
    const app = await server({ log: slow, maxPendingBytes: 2000 })
    const inFlight = Array.from({ length: 40 }, () =>
      app.inject({ method: 'POST', url: '/batch/', payload: body() }),
    )
    await new Promise((resolve) => setTimeout(resolve, 100))
    release()
    const statuses = (await Promise.all(inFlight)).map((r) => r.statusCode)
    expect(statuses).toContain(200)
    expect(statuses).toContain(503)
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true)
    await app.close()
  })
})
