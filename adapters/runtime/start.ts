import { createServer } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { createRequestSplitter } from '../../commands/capture/split-requests.ts'
import { createConsumerHealth } from '../../commands/consumers/consumer-health.ts'
import { stepAsideWhileSaturated } from '../../commands/consumers/step-aside.ts'
import { listDeadLetters, replayDeadLetters } from '../../commands/dlq/dead-letters.ts'
import { createFlagDefinitionsCache } from '../../commands/flags/definitions-cache.ts'
import { flushOutbox, startOutboxSweeper } from '../../commands/ingest/fact-publisher.ts'
import { createIngestBatchHandler } from '../../commands/ingest/ingest-batch.ts'
import { createCommandIntake } from '../../commands/intake/accept-commands.ts'
import { createTokenCache } from '../../commands/projects/token-cache.ts'
import { consumerLag, ingestionStatus } from '../../commands/status/ingestion-status.ts'
import type { Subscription } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'
import type { ProjectCredentials } from '../../ports/projects.ts'
import { projectorGroupId, startClickHouseProjector } from '../../projections/clickhouse/projector.ts'
import { postgresDeadLetterReplays } from '../../projections/postgres/dead-letter-replays.ts'
import { postgresFlagEvaluationStore } from '../../projections/postgres/flag-evaluation-store.ts'
import { postgresFlagStore } from '../../projections/postgres/flag-store.ts'
import { postgresIdentityStore } from '../../projections/postgres/identity-store.ts'
import { postgresProjectStore } from '../../projections/postgres/project-store.ts'
import { type ConsumerGroup, ConsumerGroups, Topics } from '../../schema/topics.ts'
import { buildHttpServer } from '../http/server.ts'
import { createMetrics } from '../metrics/metrics.ts'
import { openApps } from './apps.ts'
import { describeBackends } from './backends.ts'
import { type CaptureThread, spawnCaptureWorker, startCaptureThread } from './capture-thread.ts'
import { needsClickHouse, type SluiceConfig } from './config.ts'
import { resolvedLogFormat } from './logger.ts'
import { openBackends } from './open-backends.ts'
import { createPersonalApiKey, createProject, ensureDefaultProject, UnknownProjectError } from './projects.ts'
import { ShutdownSteps } from './shutdown-steps.ts'
import { logUnhandledRejections } from './unhandled-rejections.ts'
import { InterruptedError } from './wait-for-dependency.ts'

export const ingestGroupId = ConsumerGroups.ingest

/** How long stopping waits for the HTTP requests in hand before closing their connections. */
const requestsInHandMs = 10_000

export interface RunningSluice {
  url: string
  /** The first project's credentials (its personal API key only when this start created it). */
  defaultProject: ProjectCredentials
  /** What stopping waits for, in the order it does. */
  stopping(): string[]
  /** Stops every role and closes the backends; `stillWaiting` hears of a step that takes long. */
  stop(stillWaiting?: (what: string) => void): Promise<void>
}

/**
 * The composition root: opens the backends the configuration names (embedded ones in the data dir),
 * then starts the roles asked for — capture and api behind one HTTP server, ingest and project as
 * log consumers. Whatever fails on the way, what was started is stopped and the data dir released.
 */
export async function startSluice(
  config: SluiceConfig,
  logger: Logger,
  options: { signal?: AbortSignal } = {},
): Promise<RunningSluice> {
  logUnhandledRejections(logger)
  // Said before anything slow is opened: a port in use is known at once.
  await ensurePortIsFree(config)
  const roles = new Set(config.roles)
  // Capture shares the process with other roles: it gets a thread of its own, which writes
  // `capture_requests` (capture-thread.ts).
  const captureThread = roles.has('capture') && roles.size > 1 && config.captureThread
  const captureWorker = captureThread
    ? spawnCaptureWorker({ ...config, logFormat: resolvedLogFormat(config) }, roles.has('api'))
    : null
  const backends = await openBackends(
    config,
    { log: true, clickhouse: needsClickHouse(config) },
    {
      command: 'sluice start',
      logger,
      createDataDir: true,
      signal: options.signal,
      topicsWrittenElsewhere: captureThread ? [Topics.captureRequests] : [],
    },
  ).catch(async (error: unknown) => {
    await captureWorker?.worker.terminate()
    throw error
  })
  const steps = new ShutdownSteps()
  const stop = async (stillWaiting?: (what: string) => void) => {
    await steps.closeAll(logger, stillWaiting)
    await backends.close(stillWaiting)
  }
  try {
    const { lock, db, log, clickhouse, postgres: database } = backends
    const projects = postgresProjectStore(db)
    const { credentials } = await ensureDefaultProject(projects)

    const roleGroups: ConsumerGroup[] = []
    if (roles.has('ingest')) roleGroups.push(ConsumerGroups.split, ingestGroupId)
    if (roles.has('project') && clickhouse) roleGroups.push(projectorGroupId)
    const metrics = createMetrics({ consumerLag: () => consumerLag(log, roleGroups) })
    const health = createConsumerHealth({ logger, now: () => new Date(), onFailure: metrics.consumerFailed })
    const tokens = createTokenCache(projects)
    const flagStore = postgresFlagStore(db)
    const flagInputs = postgresFlagEvaluationStore(db)
    const flagDefinitions = createFlagDefinitionsCache({ flags: flagStore, evaluation: flagInputs })
    // PGlite lives in this process, which holds the data dir: nothing else writes it
    const identities = postgresIdentityStore(db, { exclusive: database.kind === 'pglite' })
    const replays = postgresDeadLetterReplays(db)
    const apps = openApps(config.apps, db)
    steps.add("the apps' sandboxes", apps.close)
    const failures: string[] = []
    // Set once capture's thread runs: appends to `capture_requests` (dead letters replayed) then go
    // through it, and the split gives way to it.
    let thread: CaptureThread | null = null
    const splitGivesWay = roles.has('ingest') && config.capturePrioritySeconds > 0

    let ingest: Subscription | null = null
    if (roles.has('ingest')) {
      // the split runs where ingest does: in a cluster, the ingest processes share it as a group
      // While capture's thread is saturated the split, and with it everything after it, waits: a
      // burst is taken at capture's full speed and worked through after (docs/architecture.md)
      const splitter = stepAsideWhileSaturated(
        createRequestSplitter({ log, logger, now: () => new Date() }),
        {
          saturated: () => splitGivesWay && thread?.saturated() === true,
          maxLagMs: config.capturePrioritySeconds * 1000,
          now: () => Date.now(),
          sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
          onWaited: (ms) => metrics.consumerGaveWay(ConsumerGroups.split, ms / 1000),
        },
      )
      metrics.consumerGaveWay(ConsumerGroups.split, 0) // shown from the start, 0 until it first does
      const split = log.subscribe({
        groupId: ConsumerGroups.split,
        topics: [Topics.captureRequests],
        maxBatchSize: 200,
        eachBatch: health.watch(ConsumerGroups.split, splitter.eachBatch),
        onConsumerProblem: health.problems(ConsumerGroups.split),
      })
      steps.add('the split (the requests in hand)', () => {
        splitter.release()
        return split.stop()
      })
      watch(split.done, 'ingest', failures, logger)
      await flushOutbox({ log, identities })
      const sweeper = startOutboxSweeper({ log, identities, logger })
      steps.add('the outbox sweeper', () => sweeper.stop())
      const handler = createIngestBatchHandler({
        identities,
        tokens,
        log,
        groupId: ingestGroupId,
        logger,
        now: () => new Date(),
        metrics: metrics.ingest,
        apps: apps.ingestStep({ logger, metrics: metrics.apps }),
      })
      ingest = log.subscribe({
        groupId: ingestGroupId,
        topics: [Topics.commands],
        // A batch's transaction costs PGlite about the same whatever its size, and the identities
        // its events share are loaded once: under a backlog 4 000 took 60 000 events end to end
        // about a fifth faster than 1 000 (docs/benchmarks.md)
        maxBatchSize: 4000,
        gather: { perMessageMs: 10, maxMs: 250 },
        startOffset: (topic, partition) => identities.consumedOffset(ingestGroupId, topic, partition),
        eachBatch: health.watch(ingestGroupId, async (batch) => {
          await handler.apply(batch)
        }),
        onConsumerProblem: health.problems(ingestGroupId),
      })
      const subscription = ingest
      steps.add('ingest (the batch in hand)', async () => {
        await subscription.stop()
        await handler.drain()
      })
      watch(subscription.done, 'ingest', failures, logger)
    }

    if (roles.has('project') && clickhouse) {
      const projector = startClickHouseProjector({
        log,
        clickhouse,
        logger,
        onBatch: metrics.projection.observeBatch,
        watch: (eachBatch) => health.watch(projectorGroupId, eachBatch),
        onConsumerProblem: health.problems(projectorGroupId),
      })
      steps.add('the projector (its insert in hand)', () => projector.stop())
    }

    const commandLog = () => thread?.log ?? log
    const server: FastifyInstance = await buildHttpServer({
      logger,
      metrics,
      moreMetrics: captureThread ? async () => (thread ? thread.metrics() : []) : undefined,
      readiness: {
        async check() {
          const status: Record<string, boolean> = {}
          for (const role of roles) status[role] = !failures.includes(role)
          if (captureThread) status.capture = thread?.running() === true
          if (roles.has('ingest'))
            status.ingest =
              status.ingest !== false &&
              !health.failing(ingestGroupId) &&
              !health.failing(ConsumerGroups.split)
          if (roles.has('project'))
            status.project = status.project !== false && !health.failing(projectorGroupId)
          if (roles.has('api') && clickhouse)
            status.api = await clickhouse.query('SELECT 1').then(
              () => status.api ?? true,
              () => false,
            )
          return status
        },
      },
      capture:
        roles.has('capture') && !captureThread
          ? { intake: createCommandIntake({ tokens, log, logger }) }
          : undefined,
      remoteConfig:
        roles.has('capture') && !captureThread
          ? {
              tokens,
              hasFeatureFlags: async (projectId) =>
                (await flagDefinitions.forProject(projectId)).flags.length > 0,
            }
          : undefined,
      flags:
        roles.has('api') && !captureThread
          ? { tokens, evaluation: { definitions: flagDefinitions, store: flagInputs, logger } }
          : undefined,
      flagDefinitions: roles.has('api')
        ? {
            projects,
            tokens,
            store: flagStore,
            evaluation: flagInputs,
            changed: (projectId) => {
              flagDefinitions.forget(projectId)
              thread?.flagsChanged(projectId)
            },
          }
        : undefined,
      apps: roles.has('api')
        ? { projects, store: apps.store, sandbox: apps.sandbox, changed: apps.changed }
        : undefined,
      console: roles.has('api'),
      api:
        roles.has('api') && clickhouse
          ? {
              projects,
              clickhouse,
              db,
              projectChanged: (project) => {
                tokens.forget(project.apiToken)
                thread?.projectChanged(project.apiToken)
              },
            }
          : undefined,
      operations: {
        projects,
        credentials: {
          createProject: (name) => createProject(projects, name),
          createPersonalApiKey: (projectId) =>
            createPersonalApiKey(projects, projectId).catch((error: unknown) => {
              if (error instanceof UnknownProjectError) return undefined
              throw error
            }),
        },
        controlToken: lock?.controlToken ?? null,
        projectOfToken: async (token) => (await tokens.resolve(token))?.id ?? null,
        deadLetters: {
          list: () => listDeadLetters(log, replays),
          replay: (ids) => replayDeadLetters(commandLog(), replays, new Date(), ids),
        },
        status: async () =>
          ingestionStatus({
            log,
            groups: Object.values(ConsumerGroups),
            health: { partitions: health.partitions(), groups: health.groupProblems() },
            deadLetters: await listDeadLetters(log, replays),
            roles: [...roles],
            backends: describeBackends(config),
            // told only where the split gives way to it
            captureSaturated: splitGivesWay ? thread?.saturated() : undefined,
          }),
      },
    })
    steps.add('the HTTP server (the requests in hand)', async () => {
      // a client that never finishes its request must not hold the stop up for ever
      const cut = setTimeout(() => server.server.closeAllConnections(), requestsInHandMs)
      await server.close()
      clearTimeout(cut)
    })
    let url: string
    if (captureWorker) {
      // this thread's server answers on loopback what the capture thread forwards to it
      await server.listen({ host: '127.0.0.1', port: 0 })
      const started = await startCaptureThread({
        config: { ...config, logFormat: resolvedLogFormat(config) },
        spawned: captureWorker,
        forwardTo: urlOf('127.0.0.1', listeningPort(server)),
        log,
        projects,
        flags: roles.has('api') ? { store: flagStore, evaluation: flagInputs } : null,
        logger,
      })
      thread = started
      steps.add('the capture thread (the requests in hand)', () => started.stop())
      url = started.url
    } else {
      await server.listen({ host: config.host, port: config.port })
      url = urlOf(config.host, listeningPort(server))
    }
    lock?.setUrl(url)
    options.signal?.throwIfAborted()
    return {
      url,
      defaultProject: credentials,
      stopping: () => [...steps.pending(), ...backends.pending()],
      stop,
    }
  } catch (error) {
    await stop()
    // a thread that was never told to begin has no step of its own
    await captureWorker?.worker.terminate()
    throw options.signal?.aborted
      ? new InterruptedError('interrupted while starting', { cause: error })
      : error
  }
}

/**
 * Fails at once when the port is taken, before the backends take seconds to open; the listen at the
 * end can still lose a race, and says the same. Port 0 asks for any free port, which never fails.
 */
async function ensurePortIsFree(config: SluiceConfig): Promise<void> {
  if (config.port === 0) return
  const probe = createServer()
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject)
    probe.listen({ host: config.host, port: config.port, exclusive: true }, () => resolve())
  })
  await new Promise((resolve) => probe.close(resolve))
}

function listeningPort(server: FastifyInstance): number {
  const address = server.server.address()
  if (typeof address !== 'object' || address === null) throw new Error('the HTTP server does not listen')
  return address.port
}

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
}

function watch(done: Promise<void>, role: string, failures: string[], logger: Logger) {
  done.catch((error: unknown) => {
    failures.push(role)
    logger.error({ err: error, role }, `${role} stopped after an unrecoverable error`)
  })
}
