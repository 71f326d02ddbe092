/**
 * The capture thread (see capture-thread.ts): capture's HTTP routes on the public port, their
 * appends to the command log, and everything else forwarded to the main thread.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads'
import { createCommandIntake } from '../../commands/intake/accept-commands.ts'
import { createTokenCache } from '../../commands/projects/token-cache.ts'
import type { LogRecord } from '../../ports/log.ts'
import type { Project } from '../../ports/projects.ts'
import { captureRoutes } from '../http/capture-routes.ts'
import { forwardRoutes } from '../http/forward-routes.ts'
import { createHttpApp } from '../http/server.ts'
import { isEmbeddedLog } from '../log/embedded/embedded-log.ts'
import { createMetrics } from '../metrics/metrics.ts'
import { openLog } from './backends.ts'
import type { CaptureWorkerData, MainThreadCalls } from './capture-thread.ts'
import { createLogger } from './logger.ts'
import { threadRpc } from './thread-rpc.ts'

const { config, forwardTo } = workerData as CaptureWorkerData
const port = parentPort as MessagePort
const logger = createLogger(config)
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
await app.register(async (scope) => forwardRoutes(scope, { target: forwardTo }))
await app.listen({ host: config.host, port: config.port })
const address = app.server.address()
const listening = typeof address === 'object' && address ? address.port : config.port
rpc.notice('listening', listening)
