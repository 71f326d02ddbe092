import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCommandIntake } from '../../commands/intake/accept-commands.ts'
import { createTokenCache } from '../../commands/projects/token-cache.ts'
import type { Log } from '../../ports/log.ts'
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

  beforeAll(async () => {
    db = await openPostgres({ kind: 'pglite', dataDir: null })
    log = createEmbeddedLog({ path: mkdtempSync(join(tmpdir(), 'sluice-http-')) })
    await log.ensureTopics([{ name: Topics.commands, partitions: 2, retention: 'forever' }])
    token = (
      await postgresProjectStore(db).createProject({
        name: 'h',
        apiToken: 'phc_http_test',
        personalApiKey: 'phx_http',
      })
    ).project.apiToken
  })
  afterAll(async () => {
    await log.close()
    await db.destroy()
  })

  async function server(
    options: { projects?: ProjectStore; log?: Log; maxPendingBytes?: number } = {},
  ): Promise<FastifyInstance> {
    const tokens = createTokenCache(options.projects ?? postgresProjectStore(db))
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
  const commandCount = async () =>
    [...(await log.endOffsets(Topics.commands)).values()].reduce((a, b) => a + b, 0)
  const body = (t = token) => JSON.stringify({ api_key: t, batch: [{ event: 'e', distinct_id: 'd' }] })

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
      payload: body('phc_maybe_new_project'),
    })
    expect(response.statusCode).toBe(200)
    expect(await commandCount()).toBe(before + 1)
    await app.close()
  })

  it('answers 503 and accepts nothing when the log cannot take the events', async () => {
    const closed = createEmbeddedLog({ path: mkdtempSync(join(tmpdir(), 'sluice-http-closed-')) })
    await closed.ensureTopics([{ name: Topics.commands, partitions: 1, retention: 'forever' }])
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
