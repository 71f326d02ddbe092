/**
 * The capture thread (see capture-thread.ts): capture's HTTP routes on the public port, their
 * appends to the command log, and everything else forwarded to the main thread.
 */
import { once } from 'node:events'
import { type MessagePort, parentPort, workerData } from 'node:worker_threads'
import { createFlagDefinitionsCache } from '../../commands/flags/definitions-cache.ts'
import { createCommandIntake } from '../../commands/intake/accept-commands.ts'
import { createTokenCache } from '../../commands/projects/token-cache.ts'
import type { FlagEvaluationStore } from '../../ports/flags.ts'
import type { LogRecord } from '../../ports/log.ts'
import type { Project } from '../../ports/projects.ts'
import { captureRoutes } from '../http/capture-routes.ts'
import { flagsRoutes } from '../http/flags-routes.ts'
import { forwardRoutes } from '../http/forward-routes.ts'
import { remoteConfigRoutes } from '../http/remote-config-routes.ts'
import { createHttpApp } from '../http/server.ts'
import { isEmbeddedLog } from '../log/embedded/embedded-log.ts'
import { createMetrics } from '../metrics/metrics.ts'
import { openLog } from './backends.ts'
import type { CaptureWorkerBegin, CaptureWorkerData, MainThreadCalls } from './capture-thread.ts'
import { createLogger } from './logger.ts'
import { threadRpc } from './thread-rpc.ts'
import { logUnhandledRejections } from './unhandled-rejections.ts'

const { config, flags } = workerData as CaptureWorkerData
const port = parentPort as MessagePort
// The modules above loaded while the main thread opened the backends; it says when to begin.
const [{ forwardTo }] = (await once(port, 'message')) as [CaptureWorkerBegin]
const logger = createLogger(config)
// a thread has its own unhandled rejections: lmdb's, when a commit fails, must not end it either
logUnhandledRejections(logger)
const log = await openLog(config, logger)
const metrics = createMetrics({ processMetrics: false })
const app = createHttpApp(logger, {
  // forwarded requests are counted by the thread that answers them
  observeRequest: (route, status) => {
    if (route !== '/*') metrics.observeRequest(route, status)
  },
})

const rpc = threadRpc<MainThreadCalls>(port, {
  append: (topic: string, records: LogRecord[]) => log.append(topic, records),
  metrics: () => metrics.registry.getMetricsAsJSON(),
  flagsChanged: (projectId: number) => definitions.forget(projectId),
  projectChanged: (token: string) => tokens.forget(token),
  stop: async () => {
    await app.close()
    await log.close()
    // nothing is left to do: the thread ends, its port closed
    setImmediate(() => port.close())
  },
})
if (isEmbeddedLog(log)) log.onAppend((topic, partition) => rpc.notice('appended', topic, partition))

const tokens = createTokenCache({
  findByToken: async (token: string): Promise<Project | undefined> => rpc.call('findByToken', token),
})
const intake = createCommandIntake({ tokens, log, logger })
await app.register(async (scope) => captureRoutes(scope, { intake, metrics: metrics.capture }))
// The SDKs' other calls are answered here too, from what the main thread reads in Postgres: the
// definitions are kept a few seconds (a change through the API is seen within them, as in another
// process), a person's properties are asked for when a request needs them.
const evaluation: FlagEvaluationStore = {
  groupTypes: (teamId) => rpc.call('groupTypes', teamId),
  personProperties: (teamId, distinctId) => rpc.call('personProperties', teamId, distinctId),
  groupProperties: (teamId, groups) => rpc.call('groupProperties', teamId, [...groups]),
  personDistinctIds: (teamId, distinctIds) => rpc.call('personDistinctIds', teamId, [...distinctIds]),
  hashKeyOverrides: (teamId, distinctIds) => rpc.call('hashKeyOverrides', teamId, [...distinctIds]),
  addHashKeyOverrides: (teamId, overrides) => rpc.call('addHashKeyOverrides', teamId, [...overrides]),
}
const definitions = createFlagDefinitionsCache({
  flags: { list: (teamId, options) => rpc.call('flagList', teamId, options) },
  evaluation,
})
await app.register(async (scope) =>
  remoteConfigRoutes(scope, {
    tokens,
    hasFeatureFlags: async (projectId) => (await definitions.forProject(projectId)).flags.length > 0,
  }),
)
if (flags)
  await app.register(async (scope) =>
    flagsRoutes(scope, { tokens, evaluation: { definitions, store: evaluation, logger } }),
  )
await app.register(async (scope) => forwardRoutes(scope, { target: forwardTo }))
await app.listen({ host: config.host, port: config.port })
const address = app.server.address()
const listening = typeof address === 'object' && address ? address.port : config.port
rpc.notice('listening', listening)
