import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { AppMetrics } from '../../commands/apps/apps-step.ts'
import type { BatchResult, IngestMetrics } from '../../commands/ingest/ingest-batch.ts'

export interface CaptureMetrics {
  eventsAccepted(count: number): void
  requestRejected(): void
}

export interface ConsumerLag {
  group: string
  topic: string
  partition: number
  lag: number
}

export interface SluiceMetrics {
  registry: Registry
  capture: CaptureMetrics
  ingest: IngestMetrics
  apps: AppMetrics
  projection: { observeBatch(topic: string, rows: number, seconds: number): void }
  consumerFailed(group: string, topic: string, partition: number): void
  /** A consumer's batch waited this long for capture's thread, saturated (step-aside.ts). */
  consumerGaveWay(group: string, seconds: number): void
  observeRequest(route: string, status: number): void
}

export interface MetricsOptions {
  /** Read at every scrape: how far each consumer group of the process is behind each partition it reads. */
  consumerLag?: () => Promise<ConsumerLag[]>
  /**
   * The process's own figures (CPU, memory, event loop). A second thread of the process leaves
   * them out: the main thread reports them, and its scrape adds the other thread's counters.
   */
  processMetrics?: boolean
}

export function createMetrics(options: MetricsOptions = {}): SluiceMetrics {
  const consumerLag = options.consumerLag ?? (async () => [])
  const registry = new Registry()
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'sluice_' })
  const requests = new Counter({
    name: 'sluice_http_requests_total',
    help: 'HTTP requests answered, by route and status',
    labelNames: ['route', 'status'],
    registers: [registry],
  })
  const accepted = new Counter({
    name: 'sluice_events_accepted_total',
    help: 'Events durably appended by capture',
    registers: [registry],
  })
  const rejected = new Counter({
    name: 'sluice_capture_requests_rejected_total',
    help: 'Capture requests answered with an error',
    registers: [registry],
  })
  const ingested = new Counter({
    name: 'sluice_ingest_events_total',
    help: 'Commands handled by ingest, by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  })
  const ingestSeconds = new Histogram({
    name: 'sluice_ingest_batch_seconds',
    help: 'Time to ingest one batch of commands',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  })
  // per app: events in (the histogram's count), and what became of them
  const appEvents = new Counter({
    name: 'sluice_app_events_total',
    help: 'Events an app ran on, by project, app and outcome (unchanged, changed, dropped, failed)',
    labelNames: ['project_id', 'app_id', 'outcome'],
    registers: [registry],
  })
  const appSeconds = new Histogram({
    name: 'sluice_app_event_seconds',
    help: 'Time an app took on one event, by project and app; its count is the events the app got',
    labelNames: ['project_id', 'app_id'],
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.025, 0.1, 0.5, 1, 5],
    registers: [registry],
  })
  const projected = new Counter({
    name: 'sluice_projected_rows_total',
    help: 'Rows inserted into ClickHouse, by topic',
    labelNames: ['topic'],
    registers: [registry],
  })
  const projectSeconds = new Histogram({
    name: 'sluice_projection_batch_seconds',
    help: 'Time to project one batch of facts into ClickHouse',
    labelNames: ['topic'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  })
  const gaveWay = new Counter({
    name: 'sluice_consumer_gave_way_seconds_total',
    help: "Time a consumer group's batches waited for capture's thread while it was saturated, by group",
    labelNames: ['group'],
    registers: [registry],
  })
  const consumerFailures = new Counter({
    name: 'sluice_consumer_failures_total',
    help: 'Batches a consumer failed and will retry, by consumer group, topic and partition',
    labelNames: ['group', 'topic', 'partition'],
    registers: [registry],
    async collect() {
      // every partition a consumer reads has a failure count, 0 until it first fails
      for (const row of await consumerLag().catch(() => []))
        this.inc({ group: row.group, topic: row.topic, partition: String(row.partition) }, 0)
    },
  })
  new Gauge({
    name: 'sluice_consumer_lag_messages',
    help: 'End offset minus committed offset, by consumer group, topic and partition',
    labelNames: ['group', 'topic', 'partition'],
    registers: [registry],
    async collect() {
      this.reset()
      // a log that cannot be asked right now leaves the gauge empty rather than failing the scrape
      const rows = await consumerLag().catch(() => [])
      for (const row of rows)
        this.set({ group: row.group, topic: row.topic, partition: String(row.partition) }, row.lag)
    },
  })
  return {
    registry,
    capture: {
      eventsAccepted: (count) => accepted.inc(count),
      requestRejected: () => rejected.inc(),
    },
    ingest: {
      observeBatch(result: BatchResult, seconds: number) {
        ingested.inc({ outcome: 'ingested' }, result.ingested)
        ingested.inc({ outcome: 'dropped' }, result.dropped)
        ingested.inc({ outcome: 'dead_lettered' }, result.deadLettered)
        ingestSeconds.observe(seconds)
      },
    },
    apps: {
      observeEvent(app, outcome, seconds) {
        const labels = { project_id: String(app.teamId), app_id: String(app.appId) }
        appEvents.inc({ ...labels, outcome })
        appSeconds.observe(labels, seconds)
      },
    },
    projection: {
      observeBatch(topic, rows, seconds) {
        projected.inc({ topic }, rows)
        projectSeconds.observe({ topic }, seconds)
      },
    },
    consumerFailed: (group, topic, partition) =>
      consumerFailures.inc({ group, topic, partition: String(partition) }),
    consumerGaveWay: (group, seconds) => gaveWay.inc({ group }, seconds),
    observeRequest: (route, status) => requests.inc({ route, status: String(status) }),
  }
}
