import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { elementsOfChain } from '../../domain/event/elements-chain.ts'
import type { ClickHouse } from '../../ports/clickhouse.ts'
import type { Project, ProjectStore } from '../../ports/projects.ts'
import {
  findPersons,
  getPerson,
  listEvents,
  listGroups,
  listIngestionWarnings,
} from '../../projections/clickhouse/queries.ts'
import { mergesThatShaped } from '../../projections/postgres/merge-audit.ts'
import type { PostgresTables } from '../../schema/postgres/tables.ts'
import { authorizedProject, projectOfKey } from './auth.ts'
import { httpErrors } from './errors.ts'

export interface ApiRouteDeps {
  projects: ProjectStore
  clickhouse: ClickHouse
  db: Kysely<PostgresTables>
  /** Called after a project's settings change, so cached copies are refreshed. */
  projectChanged(project: Project): void
}

const ProjectParams = Type.Object({ id: Type.String({ pattern: '^[0-9]+$' }) })
const PersonParams = Type.Object({
  id: Type.String({ pattern: '^[0-9]+$' }),
  uuid: Type.String({ format: 'uuid' }),
})
const Limit = Type.Integer({ minimum: 1, maximum: 100_000 })
const Offset = Type.Integer({ minimum: 0 })

/** The query and admin API, behind a personal API key; reads come from ClickHouse. */
export async function apiRoutes(fastify: FastifyInstance, deps: ApiRouteDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const projectOf = (request: Parameters<typeof authorizedProject>[0], id: string) =>
    authorizedProject(request, deps.projects, id)

  // PostHog's project list: a key sees its one project, so a client holding only the key (the
  // console) learns the project's id and token here.
  app.get('/api/projects/', async (request) => {
    const project = await projectOfKey(request, deps.projects)
    return { count: 1, next: null, previous: null, results: [projectSettings(project)] }
  })

  app.get('/api/projects/:id/', { schema: { params: ProjectParams } }, async (request) => {
    return projectSettings(await projectOf(request, request.params.id))
  })

  app.patch(
    '/api/projects/:id/',
    {
      schema: { params: ProjectParams, body: Type.Object({ anonymize_ips: Type.Optional(Type.Boolean()) }) },
    },
    async (request) => {
      const project = await projectOf(request, request.params.id)
      const updated = await deps.projects.update(project.id, { anonymizeIps: request.body.anonymize_ips })
      if (updated === undefined) throw httpErrors.notFound('Project')
      deps.projectChanged(updated)
      return projectSettings(updated)
    },
  )

  app.get(
    '/api/projects/:id/persons/',
    {
      schema: {
        params: ProjectParams,
        querystring: Type.Object({
          distinct_id: Type.Optional(Type.String()),
          search: Type.Optional(Type.String()),
          limit: Type.Optional(Limit),
          offset: Type.Optional(Offset),
        }),
      },
    },
    async (request) => {
      const project = await projectOf(request, request.params.id)
      const limit = request.query.limit ?? 100
      const offset = request.query.offset ?? 0
      const results = await findPersons(deps.clickhouse, {
        teamId: project.id,
        distinctId: request.query.distinct_id,
        search: request.query.search,
        limit: limit + 1,
        offset,
      })
      const next =
        results.length > limit
          ? nextUrl(request.url, { limit: String(limit), offset: String(offset + limit) })
          : null
      return { results: results.slice(0, limit), next }
    },
  )

  app.get('/api/projects/:id/persons/:uuid/', { schema: { params: PersonParams } }, async (request) => {
    const project = await projectOf(request, request.params.id)
    const person = await getPerson(deps.clickhouse, project.id, request.params.uuid)
    if (person === undefined) throw httpErrors.notFound('Person')
    return person
  })

  app.get(
    '/api/projects/:id/persons/:uuid/merges/',
    { schema: { params: PersonParams } },
    async (request) => {
      const project = await projectOf(request, request.params.id)
      return { results: await mergesThatShaped(deps.db, project.id, request.params.uuid) }
    },
  )

  app.get(
    '/api/projects/:id/events/',
    {
      schema: {
        params: ProjectParams,
        querystring: Type.Object({
          distinct_id: Type.Optional(Type.String()),
          person_id: Type.Optional(Type.String({ format: 'uuid' })),
          event: Type.Optional(Type.String()),
          after: Type.Optional(Type.String()),
          before: Type.Optional(Type.String()),
          limit: Type.Optional(Limit),
        }),
      },
    },
    async (request) => {
      const project = await projectOf(request, request.params.id)
      const limit = request.query.limit ?? 100
      const results = await listEvents(deps.clickhouse, {
        teamId: project.id,
        distinctId: request.query.distinct_id,
        personId: request.query.person_id,
        event: request.query.event,
        after: request.query.after,
        before: request.query.before,
        limit: limit + 1,
      })
      const page = results.slice(0, limit)
      const last = page.at(-1)
      const next = results.length > limit && last ? nextUrl(request.url, { before: last.timestamp }) : null
      return { results: page.map((e) => ({ ...e, elements: elementsOfChain(e.elements_chain) })), next }
    },
  )

  app.get(
    '/api/projects/:id/groups/',
    {
      schema: {
        params: ProjectParams,
        querystring: Type.Object({
          group_type_index: Type.Optional(Type.Integer({ minimum: 0, maximum: 4 })),
        }),
      },
    },
    async (request) => {
      const project = await projectOf(request, request.params.id)
      return {
        results: await listGroups(deps.clickhouse, {
          teamId: project.id,
          groupTypeIndex: request.query.group_type_index,
        }),
      }
    },
  )

  app.get('/api/projects/:id/ingestion_warnings/', { schema: { params: ProjectParams } }, async (request) => {
    const project = await projectOf(request, request.params.id)
    return { results: await listIngestionWarnings(deps.clickhouse, { teamId: project.id }) }
  })
}

function projectSettings(project: Project) {
  return {
    id: project.id,
    name: project.name,
    api_token: project.apiToken,
    anonymize_ips: project.anonymizeIps,
    created_at: project.createdAt,
  }
}

function nextUrl(current: string, changes: Record<string, string>): string {
  const url = new URL(current, 'http://sluice.invalid')
  for (const [key, value] of Object.entries(changes)) url.searchParams.set(key, value)
  return `${url.pathname}${url.search}`
}
