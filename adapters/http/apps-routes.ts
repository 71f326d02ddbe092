import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { createApp, deleteApp, type ManageAppsDeps, updateApp } from '../../commands/apps/manage-apps.ts'
import { AppSourceError, maxLogsPerApp } from '../../ports/apps.ts'
import type { ProjectStore } from '../../ports/projects.ts'
import { type App, type AppLogEntry, CreateAppBody, UpdateAppBody } from '../../schema/apps.ts'
import { authorizedProject } from './auth.ts'
import { httpErrors } from './errors.ts'

export interface AppRouteDeps extends ManageAppsDeps {
  projects: ProjectStore
}

const ProjectParams = Type.Object({ id: Type.String({ pattern: '^[0-9]+$' }) })
const AppParams = Type.Object({
  id: Type.String({ pattern: '^[0-9]+$' }),
  app_id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }),
})
const LogsQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: maxLogsPerApp })) })

/**
 * The apps API behind a personal API key: a project's apps, each with its `source`, `config`,
 * `enabled` and `order`, and its log. A key reaches only its own project's apps: another project's
 * id is refused by `authorizedProject`, another project's app is not found.
 */
export async function appRoutes(fastify: FastifyInstance, deps: AppRouteDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const projectOf = (request: FastifyRequest, id: string) => authorizedProject(request, deps.projects, id)
  const base = '/api/projects/:id/apps/'
  const notFound = (id: number) => httpErrors.notFound(`App ${id}`)

  app.get(base, { schema: { params: ProjectParams } }, async (request) => {
    const project = await projectOf(request, request.params.id)
    const apps = await deps.store.list(project.id)
    return { count: apps.length, next: null, previous: null, results: apps.map(appView) }
  })

  app.post(base, { schema: { params: ProjectParams, body: CreateAppBody } }, async (request, reply) => {
    const project = await projectOf(request, request.params.id)
    const created = await withSourceErrors(() => createApp(deps, project.id, request.body))
    return reply.code(201).send(appView(created))
  })

  app.get(`${base}:app_id/`, { schema: { params: AppParams } }, async (request) => {
    const project = await projectOf(request, request.params.id)
    const found = await deps.store.get(project.id, request.params.app_id)
    if (!found) throw notFound(request.params.app_id)
    return appView(found)
  })

  app.patch(`${base}:app_id/`, { schema: { params: AppParams, body: UpdateAppBody } }, async (request) => {
    const project = await projectOf(request, request.params.id)
    const updated = await withSourceErrors(() =>
      updateApp(deps, project.id, request.params.app_id, request.body),
    )
    if (!updated) throw notFound(request.params.app_id)
    return appView(updated)
  })

  app.delete(`${base}:app_id/`, { schema: { params: AppParams } }, async (request, reply) => {
    const project = await projectOf(request, request.params.id)
    if (!(await deleteApp(deps, project.id, request.params.app_id))) throw notFound(request.params.app_id)
    return reply.code(204).send()
  })

  app.get(
    `${base}:app_id/logs/`,
    { schema: { params: AppParams, querystring: LogsQuery } },
    async (request) => {
      const project = await projectOf(request, request.params.id)
      if (!(await deps.store.get(project.id, request.params.app_id))) throw notFound(request.params.app_id)
      const logs = await deps.store.logs(project.id, request.params.app_id, request.query.limit ?? 100)
      return { results: logs.map(logView) }
    },
  )
}

async function withSourceErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if (error instanceof AppSourceError)
      throw httpErrors.invalidInput(`The app cannot be installed: ${error.message}.`)
    throw error
  }
}

function appView(app: App) {
  return {
    id: app.id,
    name: app.name,
    source: app.source,
    config: app.config,
    enabled: app.enabled,
    order: app.order,
    version: app.version,
    created_at: app.createdAt,
    updated_at: app.updatedAt,
  }
}

function logView(entry: AppLogEntry) {
  return {
    timestamp: entry.timestamp,
    level: entry.level,
    message: entry.message,
    event_uuid: entry.eventUuid,
  }
}
