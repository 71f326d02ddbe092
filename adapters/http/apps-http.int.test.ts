import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Logger } from '../../ports/logger.ts'
import { postgresAppStore } from '../../projections/postgres/app-store.ts'
import { postgresProjectStore } from '../../projections/postgres/project-store.ts'
import { createMetrics } from '../metrics/metrics.ts'
import { type Db, openPostgres } from '../postgres/connect.ts'
import { createQuickJsSandbox } from '../sandbox/quickjs-sandbox.ts'
import { buildHttpServer } from './server.ts'

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} }
const keys = { mine: 'phx_apps_http_mine', theirs: 'phx_apps_http_theirs' }
const source =
  'export function processEvent(event, meta) { event.properties.tag = meta.config.tag; return event }'

interface AppView {
  id: number
  name: string
  source: string
  config: Record<string, unknown>
  enabled: boolean
  order: number
  version: number
}

describe('the apps API over HTTP (PGlite, QuickJS)', () => {
  let db: Db
  let server: FastifyInstance
  const projects = { mine: 0, theirs: 0 }
  const changed: number[] = []

  beforeAll(async () => {
    db = await openPostgres({ kind: 'pglite', dataDir: null })
    const projectStore = postgresProjectStore(db)
    for (const who of ['mine', 'theirs'] as const)
      projects[who] = (
        await projectStore.createProject({
          name: who,
          apiToken: `phc_apps_http_${who}`,
          personalApiKey: keys[who],
        })
      ).project.id
    server = await buildHttpServer({
      logger: quiet,
      metrics: createMetrics(),
      readiness: { check: async () => ({ api: true }) },
      apps: {
        projects: projectStore,
        store: postgresAppStore(db),
        sandbox: createQuickJsSandbox({ memoryBytes: 32 * 2 ** 20, timeoutMs: 200 }),
        changed: (teamId) => changed.push(teamId),
      },
    })
  })
  afterAll(async () => {
    await server?.close()
    await db?.destroy()
  })

  const api = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object, key = keys.mine) =>
    server.inject({ method, url, payload, headers: { authorization: `Bearer ${key}` } })
  const apps = (who: keyof typeof projects) => `/api/projects/${projects[who]}/apps/`

  it('installs, lists, reads, changes (a new version when source or config change), orders, disables and deletes an app', async () => {
    const created = await api('POST', apps('mine'), { name: 'tagger', source, config: { tag: 'a' } })
    expect(created.statusCode, created.body).toBe(201)
    const app = created.json<AppView>()
    expect(app).toMatchObject({ name: 'tagger', source, config: { tag: 'a' }, enabled: true, version: 1 })
    expect(changed).toContain(projects.mine)
    const second = (
      await api('POST', apps('mine'), { name: 'second', source, enabled: false })
    ).json<AppView>()
    expect(second).toMatchObject({ config: {}, enabled: false, order: app.order + 1 })

    expect((await api('GET', `${apps('mine')}${app.id}/`)).json<AppView>()).toEqual(app)
    const configured = await api('PATCH', `${apps('mine')}${app.id}/`, { config: { tag: 'b' } })
    expect(configured.json<AppView>()).toMatchObject({ config: { tag: 'b' }, version: 2 })
    const reordered = await api('PATCH', `${apps('mine')}${app.id}/`, {
      order: app.order + 5,
      enabled: false,
    })
    expect(reordered.json<AppView>()).toMatchObject({ order: app.order + 5, enabled: false, version: 2 })
    const listed = (await api('GET', apps('mine'))).json<{ count: number; results: AppView[] }>()
    expect(listed.results.map((a) => a.name)).toEqual(['second', 'tagger'])

    expect((await api('DELETE', `${apps('mine')}${app.id}/`)).statusCode).toBe(204)
    expect((await api('GET', `${apps('mine')}${app.id}/`)).statusCode).toBe(404)
    expect((await api('GET', apps('mine'))).json<{ count: number }>().count).toBe(1)
  })

  it('refuses with a 400 that says why a source that does not compile or defines no processEvent', async () => {
    for (const [bad, why] of [
      ['function processEvent(event) { return event ', /does not compile: SyntaxError/],
      ['function transform(event) { return event }', /defines no processEvent function/],
      ["import x from 'y'\nexport function processEvent(e) { return e }", /cannot import modules/],
    ] as const) {
      const response = await api('POST', apps('mine'), { name: 'bad', source: bad })
      expect(response.statusCode).toBe(400)
      expect(response.json()).toMatchObject({
        type: 'validation_error',
        code: 'invalid_input',
        detail: expect.stringMatching(why),
      })
    }
    const app = (await api('POST', apps('mine'), { name: 'good', source })).json<AppView>()
    const broken = await api('PATCH', `${apps('mine')}${app.id}/`, { source: 'nothing here' })
    expect(broken.statusCode).toBe(400)
    expect((await api('GET', `${apps('mine')}${app.id}/`)).json<AppView>().source).toBe(source)
    // the body is checked by its schema
    expect((await api('POST', apps('mine'), { name: 'x' })).statusCode).toBe(400)
    expect((await api('POST', apps('mine'), { name: 'x', source, config: [1] })).statusCode).toBe(400)
  })

  it("never lets one project's key see or change another project's apps", async () => {
    const theirs = (
      await api('POST', apps('theirs'), { name: 'theirs', source }, keys.theirs)
    ).json<AppView>()
    // their project's path with my key
    for (const [method, url, body] of [
      ['GET', apps('theirs')],
      ['POST', apps('theirs'), { name: 'intruder', source }],
      ['GET', `${apps('theirs')}${theirs.id}/`],
      ['PATCH', `${apps('theirs')}${theirs.id}/`, { enabled: false }],
      ['DELETE', `${apps('theirs')}${theirs.id}/`],
      ['GET', `${apps('theirs')}${theirs.id}/logs/`],
    ] as const) {
      const response = await api(method, url, body)
      expect(response.statusCode, `${method} ${url}`).toBe(403)
      expect(response.json()).toMatchObject({ type: 'permission_denied', code: 'auth/project_forbidden' })
    }
    // their app's id under my project
    for (const [method, body] of [
      ['GET'],
      ['PATCH', { enabled: false }],
      ['PATCH', { source }],
      ['DELETE'],
    ] as const)
      expect((await api(method, `${apps('mine')}${theirs.id}/`, body)).statusCode).toBe(404)
    expect((await api('GET', `${apps('mine')}${theirs.id}/logs/`)).statusCode).toBe(404)
    expect(
      (await api('GET', apps('mine'))).json<{ results: AppView[] }>().results.map((a) => a.id),
    ).not.toContain(theirs.id)
    // untouched
    expect(
      (await api('GET', `${apps('theirs')}${theirs.id}/`, undefined, keys.theirs)).json<AppView>(),
    ).toMatchObject({
      enabled: true,
      version: 1,
    })
    // and no key at all
    const anonymous = await server.inject({ method: 'GET', url: apps('mine') })
    expect(anonymous.statusCode).toBe(401)
  })

  it("serves an app's log, newest first, bounded by ?limit", async () => {
    const app = (await api('POST', apps('mine'), { name: 'logger', source })).json<AppView>()
    await postgresAppStore(db).addLogs(
      [1, 2, 3].map((n) => ({
        appId: app.id,
        teamId: projects.mine,
        timestamp: `2026-11-25T00:00:0${n}.000Z`,
        level: 'log' as const,
        message: `line ${n}`,
        eventUuid: '0190f0a0-0000-7000-8000-000000000001',
      })),
    )
    const logs = await api('GET', `${apps('mine')}${app.id}/logs/?limit=2`)
    expect(logs.json()).toEqual({
      results: [3, 2].map((n) => ({
        timestamp: `2026-11-25T00:00:0${n}.000Z`,
        level: 'log',
        message: `line ${n}`,
        event_uuid: '0190f0a0-0000-7000-8000-000000000001',
      })),
    })
  })
})
