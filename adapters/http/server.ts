import Fastify, { type FastifyInstance } from 'fastify'
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client'
import type { Logger } from '../../ports/logger.ts'
import type { SluiceMetrics } from '../metrics/metrics.ts'
import { type ApiRouteDeps, apiRoutes } from './api-routes.ts'
import { type AppRouteDeps, appRoutes } from './apps-routes.ts'
import { type CaptureRouteDeps, captureRoutes } from './capture-routes.ts'
import { consoleRoutes } from './console-routes.ts'
import { sendError, toHttpError } from './errors.ts'
import { type FlagDefinitionRouteDeps, flagDefinitionRoutes } from './flag-definitions-routes.ts'
import { type FlagsRouteDeps, flagsRoutes } from './flags-routes.ts'
import { type OperationsRouteDeps, operationsRoutes } from './operations-routes.ts'
import { type RemoteConfigDeps, remoteConfigRoutes } from './remote-config-routes.ts'

export interface Readiness {
  /** Each role's name and whether it can do its work now. */
  check(): Promise<Record<string, boolean>>
}

export interface HttpServerDeps {
  logger: Logger
  metrics: SluiceMetrics
  readiness: Readiness
  capture?: Omit<CaptureRouteDeps, 'metrics'>
  api?: ApiRouteDeps
  /** The apps API. */
  apps?: AppRouteDeps
  remoteConfig?: RemoteConfigDeps
  /** /flags and /decide. */
  flags?: FlagsRouteDeps
  /** The flag API and the definitions posthog-node polls. */
  flagDefinitions?: FlagDefinitionRouteDeps
  operations?: OperationsRouteDeps
  /** The operator console's page and assets (the page calls the API with its user's key). */
  console?: boolean
  /** Metrics kept elsewhere (the capture thread's), served with this process's own. */
  moreMetrics?: () => Promise<MetricObjectWithValues<MetricValue<string>>[]>
}

/**
 * A fastify instance with sluice's error handling: every error a JSON body from the catalogue, a 503
 * logged once per code every 30 s, a defect logged with its stack, every answer counted.
 */
export function createHttpApp(
  logger: Logger,
  metrics: Pick<SluiceMetrics, 'observeRequest'>,
): FastifyInstance {
  const app = Fastify({ logger: false, return503OnClosing: true, forceCloseConnections: 'idle' })

  // A dependency that is away turns every request into a 503 the clients retry: one line per code
  // every 30 s says so, instead of a stack trace per request.
  const unavailableLoggedAt = new Map<string, number>()
  app.setErrorHandler((error, request, reply) => {
    const httpError = toHttpError(error, request)
    if (httpError.status === 503) {
      const now = Date.now()
      if (now - (unavailableLoggedAt.get(httpError.code) ?? 0) >= 30_000) {
        unavailableLoggedAt.set(httpError.code, now)
        logger.warn(
          { code: httpError.code, url: request.url.split('?')[0] },
          `answering 503 until it passes: ${httpError.detail}`,
        )
      }
    } else if (httpError.status >= 500) logger.error({ err: error, url: request.url }, 'request failed')
    return sendError(reply, httpError)
  })
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      type: 'not_found',
      code: 'not_found',
      detail: `No route for ${request.method} ${request.url.split('?')[0]}.`,
    }),
  )
  // Answers leave in the check phase, after every request read in this turn of the event loop has
  // been handled: the answers then go out back to back, and a client that is waiting is woken once
  // for several of them instead of once per answer. On loopback on two cores that wake-up is most of
  // a small answer's cost (the flags benchmark: 79 against 119 µs of CPU per request).
  let answers: (() => void)[] = []
  const sendAnswers = () => {
    const now = answers
    answers = []
    for (const send of now) send()
  }
  app.addHook('onSend', (_request, _reply, payload, done) => {
    if (answers.push(() => done(null, payload)) === 1) setImmediate(sendAnswers)
  })
  app.addHook('onResponse', (request, reply, done) => {
    metrics.observeRequest(request.routeOptions.url ?? 'unmatched', reply.statusCode)
    done()
  })
  return app
}

/** The HTTP face of sluice: health and metrics always; capture and the API when those roles run here. */
export async function buildHttpServer(deps: HttpServerDeps): Promise<FastifyInstance> {
  const app = createHttpApp(deps.logger, deps.metrics)

  app.get('/_liveness', async () => ({ status: 'ok' }))
  app.get('/_readiness', async (_request, reply) => {
    const roles = await deps.readiness.check()
    const ready = Object.values(roles).every(Boolean)
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'unavailable', roles })
  })
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType)
    if (deps.moreMetrics === undefined) return deps.metrics.registry.metrics()
    // another thread's counters, added to this one's (same names sum up, as across cluster workers)
    const all = [await deps.metrics.registry.getMetricsAsJSON(), await deps.moreMetrics()]
    return AggregatorRegistry.aggregate(all).metrics()
  })

  const capture = deps.capture
  if (capture)
    await app.register(async (scope) => captureRoutes(scope, { ...capture, metrics: deps.metrics.capture }))
  const remoteConfig = deps.remoteConfig
  if (remoteConfig) await app.register(async (scope) => remoteConfigRoutes(scope, remoteConfig))
  const api = deps.api
  if (api) await app.register(async (scope) => apiRoutes(scope, api))
  const apps = deps.apps
  if (apps) await app.register(async (scope) => appRoutes(scope, apps))
  const flags = deps.flags
  if (flags) await app.register(async (scope) => flagsRoutes(scope, flags))
  const flagDefinitions = deps.flagDefinitions
  if (flagDefinitions) await app.register(async (scope) => flagDefinitionRoutes(scope, flagDefinitions))
  const operations = deps.operations
  if (operations) await app.register(async (scope) => operationsRoutes(scope, operations))
  if (deps.console) await app.register(consoleRoutes)
  return app
}
