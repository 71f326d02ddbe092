import { timingSafeEqual } from 'node:crypto'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import {
  type ListedDeadLetter,
  lettersOfProject,
  UnknownDeadLetterError,
} from '../../commands/dlq/dead-letters.ts'
import type { IngestionStatus } from '../../commands/status/ingestion-status.ts'
import type { IssuedCredentials, ProjectStore } from '../../ports/projects.ts'
import type { DeadLetter } from '../../schema/dead-letter.ts'
import { authorizedProject, bearerToken } from './auth.ts'
import { httpErrors } from './errors.ts'

export interface OperationsRouteDeps {
  projects: ProjectStore
  /** Ingestion as this process sees it: lag of every group, its own consumers' failures, dead letters. */
  status(): Promise<IngestionStatus>
  deadLetters: {
    list(): Promise<ListedDeadLetter[]>
    /** Appends the letters again (all not replayed yet when no ids are given). */
    replay(ids?: readonly string[]): Promise<DeadLetter[]>
  }
  /** The project a token belongs to, for telling whose a dead letter is. */
  projectOfToken(token: string): Promise<number | null>
  /** What `sluice projects create` and `sluice keys create` do, done by the process that holds the data dir. */
  credentials: {
    createProject(name: string): Promise<IssuedCredentials>
    /** A new key for the project (the first when null); undefined when there is no such project. */
    createPersonalApiKey(projectId: number | null): Promise<IssuedCredentials | undefined>
  }
  /**
   * The secret of the data dir's lock file: the sluice CLI on this machine acts through the running
   * process with it (`sluice status`, `sluice dlq`, `sluice projects`, `sluice keys`). Null when the
   * process holds no data dir.
   */
  controlToken: string | null
}

const ProjectParams = Type.Object({ id: Type.String({ pattern: '^[0-9]+$' }) })
const ReplayBody = Type.Object({ ids: Type.Optional(Type.Array(Type.String(), { maxItems: 100_000 })) })
const NewProjectBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) })
const NewKeyBody = Type.Object({ project_id: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]) })

/**
 * Ingestion's health and the dead letter queue: per project behind its personal API key, the
 * instance-wide status behind any valid key (numbers and codes only), and the whole queue behind
 * the control token of the data dir's lock file, for the CLI.
 */
export async function operationsRoutes(fastify: FastifyInstance, deps: OperationsRouteDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()

  const isControl = (request: FastifyRequest) => {
    const token = bearerToken(request)
    return token !== null && deps.controlToken !== null && sameSecret(token, deps.controlToken)
  }
  const requireControl = (request: FastifyRequest) => {
    if (!isControl(request)) throw httpErrors.invalidApiKey()
  }

  app.get('/api/ingestion_status/', async (request) => {
    if (!isControl(request)) {
      const token = bearerToken(request)
      if (token === null) throw httpErrors.missingApiKey()
      if ((await deps.projects.findByPersonalApiKey(token)) === undefined) throw httpErrors.invalidApiKey()
    }
    return deps.status()
  })

  app.get('/api/projects/:id/dead_letters/', { schema: { params: ProjectParams } }, async (request) => {
    const project = await authorizedProject(request, deps.projects, request.params.id)
    const letters = await lettersOfProject(await deps.deadLetters.list(), project.id, deps.projectOfToken)
    return {
      results: letters.reverse().map((letter) => ({
        id: letter.id,
        step: letter.step,
        code: letter.code ?? null,
        reason: letter.reason,
        event_uuid: letter.subject.eventUuid,
        event: letter.subject.event,
        distinct_id: letter.subject.distinctId,
        created_at: letter.at,
        replayed_at: letter.replayedAt,
      })),
    }
  })

  app.post(
    '/api/projects/:id/dead_letters/replay/',
    { schema: { params: ProjectParams, body: Type.Optional(ReplayBody) } },
    async (request) => {
      const project = await authorizedProject(request, deps.projects, request.params.id)
      const mine = await lettersOfProject(await deps.deadLetters.list(), project.id, deps.projectOfToken)
      const ids = request.body?.ids
      let chosen: string[]
      if (ids === undefined) chosen = mine.filter((l) => l.replayedAt === null).map((l) => l.id)
      else {
        const own = new Set(mine.map((l) => l.id))
        const foreign = ids.find((id) => !own.has(id))
        if (foreign !== undefined) throw httpErrors.notFound(`Dead letter ${foreign}`)
        chosen = ids
      }
      const replayed = chosen.length === 0 ? [] : await deps.deadLetters.replay(chosen)
      return { replayed: replayed.map((l) => l.id) }
    },
  )

  app.get('/_control/dead_letters/', async (request) => {
    requireControl(request)
    return { results: await deps.deadLetters.list() }
  })

  app.post(
    '/_control/dead_letters/replay/',
    { schema: { body: Type.Optional(ReplayBody) } },
    async (request) => {
      requireControl(request)
      try {
        return { replayed: await deps.deadLetters.replay(request.body?.ids) }
      } catch (error) {
        if (error instanceof UnknownDeadLetterError) throw httpErrors.notFound(`Dead letter ${error.id}`)
        throw error
      }
    },
  )

  app.get('/_control/projects/', async (request) => {
    requireControl(request)
    return { results: await deps.projects.list() }
  })

  app.post('/_control/projects/', { schema: { body: NewProjectBody } }, async (request) => {
    requireControl(request)
    return deps.credentials.createProject(request.body.name)
  })

  app.post('/_control/personal_api_keys/', { schema: { body: NewKeyBody } }, async (request) => {
    requireControl(request)
    const issued = await deps.credentials.createPersonalApiKey(request.body.project_id)
    if (issued === undefined) throw httpErrors.notFound(`Project ${request.body.project_id ?? '(first)'}`)
    return issued
  })
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}
