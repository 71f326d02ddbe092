import { randomUUID } from 'node:crypto'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { decodeFlagsRequest } from '../../commands/flags/decode-flags-request.ts'
import { FlagDefinitionsUnavailableError, FlagsRequestError } from '../../commands/flags/errors.ts'
import { type EvaluateFlagsDeps, evaluateFlags } from '../../commands/flags/evaluate-flags.ts'
import { flagsResponseBody, flagsResponseShape } from '../../commands/flags/flags-response.ts'
import type { TokenCache } from '../../commands/projects/token-cache.ts'
import type { Project } from '../../ports/projects.ts'
import { firstValues, headerValue } from './capture-routes.ts'
import { allowAnyOrigin } from './cors.ts'
import { flagErrors } from './flag-errors.ts'
import { remoteConfig } from './remote-config-routes.ts'

export interface FlagsRouteDeps {
  tokens: TokenCache
  evaluation: EvaluateFlagsDeps
  now?: () => Date
}

const FlagsQuery = Type.Object(
  {
    v: Type.Optional(Type.String()),
    config: Type.Optional(Type.String()),
    compression: Type.Optional(Type.String()),
    data: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
)

/**
 * `POST /flags/?v=2` and `POST /decide/?v=3` (and their other versions), with the bodies the SDKs
 * send, answered in the shape each version's readers expect; any origin may call them, as on
 * capture. /decide and `?config=true` also carry the config posthog-js reads on load.
 */
export async function flagsRoutes(fastify: FastifyInstance, deps: FlagsRouteDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
  allowAnyOrigin(app)
  const now = deps.now ?? (() => new Date())

  for (const endpoint of ['flags', 'decide'] as const) {
    for (const url of [`/${endpoint}`, `/${endpoint}/`]) {
      app.route({
        method: ['GET', 'POST'],
        url,
        bodyLimit: 2 * 1024 * 1024,
        schema: { querystring: FlagsQuery },
        handler: (request, reply) => answer(endpoint, request, reply, deps, now()),
      })
      app.options(url, async () => '')
    }
  }
}

async function answer(
  endpoint: 'flags' | 'decide',
  request: FastifyRequest,
  reply: FastifyReply,
  deps: FlagsRouteDeps,
  now: Date,
) {
  const query = firstValues(request.query)
  let flagsRequest: ReturnType<typeof decodeFlagsRequest>
  try {
    flagsRequest = decodeFlagsRequest({
      query,
      headers: {
        contentType: request.headers['content-type'],
        contentEncoding: headerValue(request.headers['content-encoding']),
      },
      body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
    })
  } catch (error) {
    throw error instanceof FlagsRequestError ? flagErrors.request(error) : error
  }
  const project = await projectOf(deps.tokens, flagsRequest.token)
  const withConfig = endpoint === 'decide' || query.config === 'true'
  let evaluation: Awaited<ReturnType<typeof evaluateFlags>>
  let hasFeatureFlags = false
  try {
    evaluation = await evaluateFlags(deps.evaluation, project.id, flagsRequest, now.getTime())
    if (withConfig)
      hasFeatureFlags = (await deps.evaluation.definitions.forProject(project.id)).flags.length > 0
  } catch (error) {
    throw error instanceof FlagDefinitionsUnavailableError
      ? Object.assign(flagErrors.definitionsUnavailable(), { cause: error })
      : error
  }
  return reply.type('application/json; charset=utf-8').send(
    flagsResponseBody(evaluation, flagsResponseShape(endpoint, query.v), {
      requestId: randomUUID(),
      evaluatedAt: now.getTime(),
      config: withConfig ? remoteConfig(flagsRequest.token, hasFeatureFlags) : undefined,
    }),
  )
}

/** With Postgres away a token seen before still works; one never seen cannot be checked (503). */
async function projectOf(tokens: TokenCache, token: string): Promise<Project> {
  let project: Project | null | undefined
  try {
    project = await tokens.resolve(token)
  } catch (error) {
    project = tokens.cached(token)
    if (project === undefined) throw Object.assign(flagErrors.definitionsUnavailable(), { cause: error })
  }
  if (project === null) throw flagErrors.unknownToken()
  return project
}
