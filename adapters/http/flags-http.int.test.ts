import { gzipSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFlagDefinitionsCache } from '../../commands/flags/definitions-cache.ts'
import { createTokenCache } from '../../commands/projects/token-cache.ts'
import type { Logger } from '../../ports/logger.ts'
import { postgresFlagEvaluationStore } from '../../projections/postgres/flag-evaluation-store.ts'
import { postgresFlagStore } from '../../projections/postgres/flag-store.ts'
import { postgresIdentityStore } from '../../projections/postgres/identity-store.ts'
import { postgresProjectStore } from '../../projections/postgres/project-store.ts'
import type { Fact } from '../../schema/facts.ts'
import { createMetrics } from '../metrics/metrics.ts'
import { type Db, openPostgres } from '../postgres/connect.ts'
import { buildHttpServer } from './server.ts'

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} }
const token = 'phc_flags_http'
const key = 'phx_flags_http'
const otherToken = 'phc_flags_other'
const otherKey = 'phx_flags_other'

interface FlagDetails {
  enabled: boolean
  variant: string | null
  reason: { code: string; condition_index: number | null }
  metadata: { id: number; version: number; payload: unknown }
  failed?: boolean
}
interface FlagsV2 {
  flags: Record<string, FlagDetails>
  errorsWhileComputingFlags: boolean
}

describe('flags over HTTP (PGlite)', () => {
  let db: Db
  let app: FastifyInstance
  let project: number
  let otherProject: number

  beforeAll(async () => {
    db = await openPostgres({ kind: 'pglite', dataDir: null })
    const projects = postgresProjectStore(db)
    project = (await projects.createProject({ name: 'flags', apiToken: token, personalApiKey: key })).project
      .id
    otherProject = (
      await projects.createProject({ name: 'other', apiToken: otherToken, personalApiKey: otherKey })
    ).project.id
    const tokens = createTokenCache(projects)
    const store = postgresFlagStore(db)
    const evaluation = postgresFlagEvaluationStore(db)
    const definitions = createFlagDefinitionsCache({ flags: store, evaluation })
    app = await buildHttpServer({
      logger: quiet,
      metrics: createMetrics(),
      readiness: { check: async () => ({ api: true }) },
      remoteConfig: {
        tokens,
        hasFeatureFlags: async (id) => (await definitions.forProject(id)).flags.length > 0,
      },
      flags: { tokens, evaluation: { definitions, store: evaluation, logger: quiet } },
      flagDefinitions: { projects, tokens, store, evaluation, changed: (id) => definitions.forget(id) },
    })
    await postgresIdentityStore(db).transaction((tx) => tx.applyFacts(storedPersonsAndGroups(project)))
  })
  afterAll(async () => {
    await app?.close()
    await db?.destroy()
  })

  const api = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object, apiKey = key) =>
    app.inject({ method, url, payload, headers: { authorization: `Bearer ${apiKey}` } })
  const createFlag = async (flag: object) => {
    const response = await api('POST', `/api/projects/${project}/feature_flags/`, flag)
    expect(response.statusCode, response.body).toBe(201)
    return response.json<{ id: number; key: string; version: number }>()
  }
  const flagsFor = async (body: object, url = '/flags/?v=2') => {
    const response = await app.inject({ method: 'POST', url, payload: { token, ...body } })
    expect(response.statusCode, response.body).toBe(200)
    return response.json<FlagsV2>()
  }

  describe('the flag API', () => {
    it('creates, lists, reads, changes and deletes flags in PostHog’s shape, per project', async () => {
      const created = await createFlag({
        key: 'api-flag',
        name: 'An API flag',
        filters: { groups: [{ properties: [], rollout_percentage: 30 }], payloads: { true: '{"x":1}' } },
      })
      expect(created).toMatchObject({ key: 'api-flag', version: 1, active: true, deleted: false })
      const url = `/api/projects/${project}/feature_flags/${created.id}/`
      expect((await api('GET', url)).json()).toMatchObject({
        name: 'An API flag',
        filters: { payloads: { true: '{"x":1}' } },
      })
      const patched = await api('PATCH', url, { active: false, ensure_experience_continuity: true })
      expect(patched.json()).toMatchObject({ active: false, ensure_experience_continuity: true, version: 2 })
      const list = (await api('GET', `/api/projects/${project}/feature_flags/`)).json<{
        results: { key: string }[]
      }>()
      expect(list.results.map((f) => f.key)).toContain('api-flag')
      expect((await api('DELETE', url)).statusCode).toBe(204)
      expect((await api('GET', url)).json()).toMatchObject({ deleted: true })
      const after = (await api('GET', `/api/projects/${project}/feature_flags/`)).json<{
        results: { key: string }[]
      }>()
      expect(after.results.map((f) => f.key)).not.toContain('api-flag')
    })

    it('refuses what it cannot take with a clear 4xx body', async () => {
      await createFlag({ key: 'taken' })
      const base = `/api/projects/${project}/feature_flags/`
      const cases: [Promise<{ statusCode: number; json(): unknown }>, number, string][] = [
        [api('POST', base, { key: 'taken' }), 400, 'flags/key_taken'],
        [api('POST', base, { key: 'bad key!' }), 400, 'invalid_input'],
        [
          api('POST', base, {
            key: 'bad-variants',
            filters: { groups: [], multivariate: { variants: [{ key: 'a', rollout_percentage: 60 }] } },
          }),
          400,
          'flags/invalid_definition',
        ],
        [
          api('POST', base, {
            key: 'cohort',
            filters: { groups: [{ properties: [{ key: 'id', value: 1, type: 'cohort' }] }] },
          }),
          400,
          'flags/invalid_definition',
        ],
        [
          api('POST', base, { key: 'x', filters: { groups: [{ rollout_percentage: 101 }] } }),
          400,
          'invalid_input',
        ],
        [api('GET', `${base}999999/`), 404, 'not_found'],
        [api('PATCH', `${base}999999/`, { active: true }), 404, 'not_found'],
        [api('GET', base, undefined, otherKey), 403, 'auth/project_forbidden'],
        [app.inject({ method: 'GET', url: base }), 401, 'auth/missing_api_key'],
      ]
      for (const [response, status, code] of cases) {
        const { statusCode, json } = await response
        expect({ statusCode, body: json() }).toMatchObject({ statusCode: status, body: { code } })
        expect(json()).toHaveProperty('detail')
      }
    })
  })

  describe('/flags and /decide', () => {
    it('read person properties from the projection, overlaid by the request’s', async () => {
      await createFlag({
        key: 'pro-users',
        filters: {
          groups: [{ properties: [{ key: 'plan', value: 'pro', type: 'person' }], rollout_percentage: 100 }],
          payloads: { true: '{"seats":5}' },
        },
      })
      const stored = await flagsFor({ distinct_id: 'alice-anon' })
      expect(stored.flags['pro-users']).toMatchObject({
        enabled: true,
        reason: { code: 'condition_match', condition_index: 0 },
        metadata: { payload: '{"seats":5}' },
      })
      const overridden = await flagsFor({ distinct_id: 'alice', person_properties: { plan: 'free' } })
      expect(overridden.flags['pro-users']).toMatchObject({ enabled: false, variant: null })
      expect((await flagsFor({ distinct_id: 'stranger' })).flags['pro-users']?.enabled).toBe(false)
      // distinct_id is a person property when the person is read, as in PostHog
      await createFlag({
        key: 'alice-only',
        filters: { groups: [{ properties: [{ key: 'distinct_id', value: 'alice' }] }] },
      })
      expect((await flagsFor({ distinct_id: 'alice' })).flags['alice-only']?.enabled).toBe(true)
    })

    it('group flags read the group’s stored properties and bucket by its key', async () => {
      await createFlag({
        key: 'big-companies',
        filters: {
          aggregation_group_type_index: 0,
          groups: [
            {
              properties: [{ key: 'seats', operator: 'gte', value: 100, type: 'group', group_type_index: 0 }],
            },
          ],
        },
      })
      const big = await flagsFor({ distinct_id: 'alice', groups: { company: 'acme' } })
      expect(big.flags['big-companies']?.enabled).toBe(true)
      const small = await flagsFor({ distinct_id: 'alice', groups: { company: 'tiny' } })
      expect(small.flags['big-companies']?.reason.code).toBe('no_condition_match')
      const overridden = await flagsFor({
        distinct_id: 'alice',
        groups: { company: 'tiny' },
        group_properties: { company: { seats: 500 } },
      })
      expect(overridden.flags['big-companies']?.enabled).toBe(true)
      const none = await flagsFor({ distinct_id: 'alice' })
      expect(none.flags['big-companies']).toMatchObject({ enabled: false, reason: { code: 'no_group_type' } })
    })

    it('keep a user’s variant across identify (experience continuity), and only for continuity flags', async () => {
      const split = {
        groups: [{ properties: [], rollout_percentage: 100 }],
        multivariate: {
          variants: [
            { key: 'a', rollout_percentage: 25 },
            { key: 'b', rollout_percentage: 25 },
            { key: 'c', rollout_percentage: 25 },
            { key: 'd', rollout_percentage: 25 },
          ],
        },
      }
      await createFlag({ key: 'continuous', ensure_experience_continuity: true, filters: split })
      await createFlag({ key: 'plain-split', filters: split })
      const variant = (body: FlagsV2, flag: string) => body.flags[flag]?.variant
      // an anonymous id whose variants differ from the identified id's own, so the test can fail
      const user = 'carol@example.com'
      const own = await flagsFor({ distinct_id: user })
      let anon = ''
      for (let i = 0; anon === ''; i++) {
        const candidate = await flagsFor({ distinct_id: `anon-carol-${i}` })
        if (['continuous', 'plain-split'].every((flag) => variant(candidate, flag) !== variant(own, flag)))
          anon = `anon-carol-${i}`
      }
      const before = await flagsFor({ distinct_id: anon })
      const identifying = await flagsFor({ distinct_id: user, $anon_distinct_id: anon })
      expect(variant(identifying, 'continuous')).toBe(variant(before, 'continuous'))
      expect(variant(identifying, 'plain-split')).toBe(variant(own, 'plain-split'))
      // later requests no longer send $anon_distinct_id: the stored override keeps the variant
      const later = await flagsFor({ distinct_id: user })
      expect(variant(later, 'continuous')).toBe(variant(before, 'continuous'))
      expect(variant(later, 'plain-split')).toBe(variant(own, 'plain-split'))
      // identifying again from another device keeps the first anonymous id's bucket
      const again = await flagsFor({ distinct_id: user, $anon_distinct_id: 'anon-carol-other-device' })
      expect(variant(again, 'continuous')).toBe(variant(before, 'continuous'))
    })

    it('leave inactive and deleted flags out, and evaluate only the keys asked for', async () => {
      const off = await createFlag({ key: 'switched-off', active: false })
      const gone = await createFlag({ key: 'gone' })
      await api('DELETE', `/api/projects/${project}/feature_flags/${gone.id}/`)
      const all = await flagsFor({ distinct_id: 'alice' })
      expect(Object.keys(all.flags)).not.toContain('switched-off')
      expect(Object.keys(all.flags)).not.toContain('gone')
      await api('PATCH', `/api/projects/${project}/feature_flags/${off.id}/`, { active: true })
      expect((await flagsFor({ distinct_id: 'alice' })).flags['switched-off']?.enabled).toBe(true)
      const some = await flagsFor({ distinct_id: 'alice', flag_keys_to_evaluate: ['pro-users', 'nope'] })
      expect(Object.keys(some.flags)).toEqual(['pro-users'])
    })

    it('take every body the SDKs send and answer any origin', async () => {
      const json = JSON.stringify({ token, distinct_id: 'alice' })
      const gzip = await app.inject({
        method: 'POST',
        url: '/flags/?v=2',
        headers: { 'content-type': 'text/plain', origin: 'https://shop.example' },
        payload: gzipSync(json),
      })
      expect(gzip.statusCode).toBe(200)
      expect(gzip.headers['access-control-allow-origin']).toBe('https://shop.example')
      expect(gzip.json<FlagsV2>().flags['pro-users']?.enabled).toBe(true)
      const form = await app.inject({
        method: 'POST',
        url: '/flags/?v=2&compression=base64',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `data=${encodeURIComponent(Buffer.from(json).toString('base64'))}`,
      })
      expect(form.json<FlagsV2>().flags['pro-users']?.enabled).toBe(true)
      const preflight = await app.inject({
        method: 'OPTIONS',
        url: '/flags/?v=2',
        headers: { origin: 'https://shop.example', 'access-control-request-headers': 'content-type' },
      })
      expect(preflight.statusCode).toBe(200)
      expect(preflight.headers['access-control-allow-headers']).toBe('content-type')
    })

    it('answer each /decide version in its shape, with the config posthog-js reads on load', async () => {
      const decide = async (v: string) =>
        (
          await app.inject({
            method: 'POST',
            url: `/decide/?v=${v}`,
            payload: { token, distinct_id: 'alice' },
          })
        ).json<Record<string, unknown>>()
      const v3 = await decide('3')
      expect(v3).toMatchObject({
        featureFlags: { 'pro-users': true },
        featureFlagPayloads: { 'pro-users': '{"seats":5}' },
        errorsWhileComputingFlags: false,
        supportedCompression: ['gzip', 'gzip-js'],
        hasFeatureFlags: true,
        sessionRecording: false,
        siteApps: [],
      })
      expect(v3).not.toHaveProperty('surveys')
      expect((await decide('2')).featureFlags).toMatchObject({ 'pro-users': true })
      expect((await decide('1')).featureFlags).toContain('pro-users')
      expect((await decide('4')).flags).toHaveProperty('pro-users')
      const v1flags = await app.inject({
        method: 'POST',
        url: '/flags',
        payload: { token, distinct_id: 'alice' },
      })
      expect(v1flags.json()).toMatchObject({ featureFlags: { 'pro-users': true } })
      expect(v1flags.json()).not.toHaveProperty('supportedCompression')
      const withConfig = await app.inject({
        method: 'POST',
        url: '/flags/?v=2&config=true',
        payload: { token, distinct_id: 'alice' },
      })
      expect(withConfig.json()).toMatchObject({
        hasFeatureFlags: true,
        flags: { 'pro-users': { enabled: true } },
      })
    })

    it('refuse bad requests with a clear 4xx, never crash', async () => {
      const cases: [object | string, number, string][] = [
        [{ distinct_id: 'alice' }, 401, 'missing_token'],
        [{ token: 'phc_nobody', distinct_id: 'alice' }, 401, 'invalid_token'],
        [{ token }, 400, 'missing_distinct_id'],
        ['{not json', 400, 'invalid_payload'],
      ]
      for (const [payload, status, code] of cases) {
        const response = await app.inject({ method: 'POST', url: '/flags/?v=2', payload })
        expect(response.statusCode).toBe(status)
        expect(response.json()).toMatchObject({ code })
      }
    })
  })

  describe('definitions for local evaluation', () => {
    for (const path of ['/flags/definitions', '/api/feature_flag/local_evaluation/']) {
      it(`${path}: the project's flags behind a personal API key, with an ETag`, async () => {
        const url = `${path}?token=${token}&send_cohorts`
        const first = await api('GET', url)
        expect(first.statusCode).toBe(200)
        const body = first.json<{ flags: { key: string }[]; group_type_mapping: object; cohorts: object }>()
        expect(body.flags.map((f) => f.key)).toContain('pro-users')
        expect(body.flags.map((f) => f.key)).not.toContain('gone')
        expect(body.group_type_mapping).toEqual({ '0': 'company' })
        expect(body.cohorts).toEqual({})
        const etag = first.headers.etag as string
        const again = await app.inject({
          method: 'GET',
          url,
          headers: { authorization: `Bearer ${key}`, 'if-none-match': etag },
        })
        expect(again.statusCode).toBe(304)
        expect((await api('GET', url, undefined, otherKey)).statusCode).toBe(403)
        expect((await api('GET', `${path}?token=${otherToken}`)).statusCode).toBe(403)
        expect((await app.inject({ method: 'GET', url })).statusCode).toBe(401)
        expect((await api('GET', path)).statusCode).toBe(400)
      })
    }

    it('a change gives a new ETag', async () => {
      const url = `/flags/definitions?token=${token}`
      const before = (await api('GET', url)).headers.etag
      await createFlag({ key: 'etag-changer' })
      expect((await api('GET', url)).headers.etag).not.toBe(before)
    })
  })

  it('remote config says hasFeatureFlags only when the project has an active flag', async () => {
    const config = async (t: string) =>
      (await app.inject({ method: 'GET', url: `/array/${t}/config` })).json<{ hasFeatureFlags: boolean }>()
    expect((await config(token)).hasFeatureFlags).toBe(true)
    expect((await config(otherToken)).hasFeatureFlags).toBe(false)
    const made = await api(
      'POST',
      `/api/projects/${otherProject}/feature_flags/`,
      { key: 'off', active: false },
      otherKey,
    )
    expect(made.statusCode).toBe(201)
    expect((await config(otherToken)).hasFeatureFlags).toBe(false)
    await api(
      'PATCH',
      `/api/projects/${otherProject}/feature_flags/${made.json<{ id: number }>().id}/`,
      { active: true },
      otherKey,
    )
    expect((await config(otherToken)).hasFeatureFlags).toBe(true)
  })
})

/** Alice's person (anonymous id merged in) with plan pro; companies acme (500 seats) and tiny (3). */
function storedPersonsAndGroups(teamId: number): Fact[] {
  const alice = '00000000-0000-5000-8000-0000000a11ce'
  const group = (groupKey: string, seats: number): Fact => ({
    type: 'group_updated',
    teamId,
    groupTypeIndex: 0,
    groupKey,
    properties: { seats },
    createdAt: '2026-01-01T00:00:00.000Z',
    version: 1,
  })
  return [
    {
      type: 'person_created',
      teamId,
      uuid: alice,
      createdAt: '2026-01-01T00:00:00.000Z',
      properties: { plan: 'pro', email: 'alice@example.com' },
      isIdentified: true,
      version: 0,
    },
    { type: 'distinct_id_assigned', teamId, distinctId: 'alice', personUuid: alice, version: 0 },
    { type: 'distinct_id_assigned', teamId, distinctId: 'alice-anon', personUuid: alice, version: 0 },
    { type: 'group_type_assigned', teamId, groupType: 'company', groupTypeIndex: 0 },
    group('acme', 500),
    group('tiny', 3),
  ]
}
