import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { InvalidFlagError } from '../../commands/flags/errors.ts'
import { localEvaluationDefinitions } from '../../commands/flags/local-evaluation.ts'
import {
  createFlag,
  deleteFlag,
  type ManageFlagsDeps,
  updateFlag,
} from '../../commands/flags/manage-flags.ts'
import type { TokenCache } from '../../commands/projects/token-cache.ts'
import { type FlagEvaluationStore, FlagKeyTakenError } from '../../ports/flags.ts'
import type { Project, ProjectStore } from '../../ports/projects.ts'
import { CreateFlagBody, type FeatureFlag, UpdateFlagBody } from '../../schema/flags.ts'
import { authorizedProject } from './auth.ts'
import { httpErrors } from './errors.ts'
import { flagErrors } from './flag-errors.ts'

export interface FlagDefinitionRouteDeps extends ManageFlagsDeps {
  projects: ProjectStore
  tokens: TokenCache
  evaluation: FlagEvaluationStore
}

const ProjectParams = Type.Object({ id: Type.String({ pattern: '^[0-9]+$' }) })
const FlagParams = Type.Object({
  id: Type.String({ pattern: '^[0-9]+$' }),
  flag_id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }),
})
const TokenQuery = Type.Object({ token: Type.Optional(Type.String()) }, { additionalProperties: true })

/**
 * Flag definitions behind a personal API key, in PostHog's shape: the project's flags API, and
 * the definitions posthog-node polls for local evaluation (which names the project by its token).
 */
export async function flagDefinitionRoutes(
  fastify: FastifyInstance,
  deps: FlagDefinitionRouteDeps,
): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const projectOf = (request: FastifyRequest, id: string) => authorizedProject(request, deps.projects, id)
  const base = '/api/projects/:id/feature_flags/'

  app.get(base, { schema: { params: ProjectParams } }, async (request) => {
    const project = await projectOf(request, request.params.id)
    const flags = await deps.store.list(project.id)
    return { count: flags.length, next: null, previous: null, results: flags.map(flagView) }
  })

  app.post(base, { schema: { params: ProjectParams, body: CreateFlagBody } }, async (request, reply) => {
    const project = await projectOf(request, request.params.id)
    const flag = await withFlagErrors(() => createFlag(deps, project.id, request.body))
    return reply.code(201).send(flagView(flag))
  })

  app.get(`${base}:flag_id/`, { schema: { params: FlagParams } }, async (request) => {
    const project = await projectOf(request, request.params.id)
    const flag = await deps.store.get(project.id, request.params.flag_id)
    if (!flag) throw flagErrors.flagNotFound(request.params.flag_id)
    return flagView(flag)
  })

  app.patch(`${base}:flag_id/`, { schema: { params: FlagParams, body: UpdateFlagBody } }, async (request) => {
    const project = await projectOf(request, request.params.id)
    const flag = await withFlagErrors(() =>
      updateFlag(deps, project.id, request.params.flag_id, request.body),
    )
    if (!flag) throw flagErrors.flagNotFound(request.params.flag_id)
    return flagView(flag)
  })

  app.delete(`${base}:flag_id/`, { schema: { params: FlagParams } }, async (request, reply) => {
    const project = await projectOf(request, request.params.id)
    const flag = await deleteFlag(deps, project.id, request.params.flag_id)
    if (!flag) throw flagErrors.flagNotFound(request.params.flag_id)
    return reply.code(204).send()
  })

  for (const url of ['/flags/definitions', '/flags/definitions/', '/api/feature_flag/local_evaluation/']) {
    app.get(url, { schema: { querystring: TokenQuery } }, async (request, reply) => {
      const project = await projectOfToken(request, request.query.token, deps)
      const { body, etag } = await localEvaluationDefinitions(
        { flags: deps.store, evaluation: deps.evaluation },
        project.id,
      )
      reply.header('etag', etag).header('cache-control', 'no-cache')
      if (request.headers['if-none-match'] === etag) return reply.code(304).send()
      return reply.type('application/json').send(body)
    })
  }
}

/** The token names the project; the personal API key must be one of that project's. */
async function projectOfToken(
  request: FastifyRequest,
  token: string | undefined,
  deps: FlagDefinitionRouteDeps,
): Promise<Project> {
  if (!token) throw flagErrors.missingToken()
  let project: Project | null
  try {
    project = await deps.tokens.resolve(token)
  } catch (error) {
    throw Object.assign(httpErrors.unavailable('The project store is unreachable; retry shortly.'), {
      cause: error,
    })
  }
  if (project === null) throw flagErrors.unknownToken()
  return authorizedProject(request, deps.projects, String(project.id))
}

async function withFlagErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if (error instanceof InvalidFlagError) throw flagErrors.invalidDefinition(error.message)
    if (error instanceof FlagKeyTakenError) throw flagErrors.keyTaken(error.key)
    throw error
  }
}

/** PostHog's field names for a flag. */
function flagView(flag: FeatureFlag) {
  return {
    id: flag.id,
    team_id: flag.teamId,
    key: flag.key,
    name: flag.name,
    filters: flag.filters,
    active: flag.active,
    deleted: flag.deleted,
    ensure_experience_continuity: flag.ensureExperienceContinuity,
    version: flag.version,
    created_at: flag.createdAt,
    updated_at: flag.updatedAt,
  }
}
