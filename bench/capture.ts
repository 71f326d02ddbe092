import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import autocannon from 'autocannon'
import { uuidV7 } from '../adapters/http/uuid-v7.ts'
import { createEmbeddedLog } from '../adapters/log/embedded/embedded-log.ts'
import { captureRequestRecords } from '../commands/capture/capture-request.ts'
import { decodeCaptureRequest } from '../commands/capture/decode-request.ts'
import type { LogRecord } from '../ports/log.ts'
import { Topics } from '../schema/topics.ts'
import { type ChildServer, startChild, startSluiceChild } from './child-server.ts'
import { printTable } from './report.ts'

const run = promisify(execFile)
const root = new URL('..', import.meta.url).pathname
const durationSeconds = Number(process.env.BENCH_SECONDS ?? 10)
const connections = 16
/** Rounds of bare fastify and every server in turn; the rows show the median round's figures. */
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3))

export type Loaded = Awaited<ReturnType<typeof load>>
type Row = (string | number)[]

/**
 * Capture throughput against a bare fastify server that parses the same JSON and answers 200, in
 * the same run: 50-event batches to /batch/ and single events to /e/, 16 concurrent connections.
 * sluice is measured as a user starts it — `sluice start`, every role in one process, so ingest,
 * the projector and the API run beside capture on the same two cores — with capture on a thread
 * of its own (the default) and on the main thread (SLUICE_CAPTURE_THREAD=off); then the capture
 * role alone — in rounds (`BENCH_ROUNDS`, 3 by default), bare fastify first in each, and every
 * server's ratio the median of its rounds'. Every 200 means the events are fsynced in the command
 * log. CPU per request is the server process's, all threads, and under it its busiest thread's
 * (Linux only). Then two parts of capture's cost alone: its very records appended straight to the
 * embedded log (the ceiling the durable log sets, and an append's CPU), and its own work on the
 * request — decoding, checking, normalising, serialising — with no HTTP and no log.
 */
export async function captureBench(): Promise<void> {
  const rows: Row[] = []
  // capture on the main thread, an order of magnitude behind, is measured in the first round only
  const servers: { name: string; args: string[]; env: NodeJS.ProcessEnv; firstRoundOnly?: true }[] = [
    { name: 'sluice start, capture thread', args: [], env: {} },
    {
      name: 'sluice start, capture on the main thread',
      args: [],
      env: { SLUICE_CAPTURE_THREAD: 'off' },
      firstRoundOnly: true,
    },
    { name: 'capture role alone', args: ['--roles', 'capture'], env: {} },
  ]
  for (const shape of ['batch', 'single'] as const) {
    const eventsPerRequest = shape === 'batch' ? 50 : 1
    const path = shape === 'batch' ? '/batch/' : '/e/'
    const label = shape === 'batch' ? '50-event batch' : 'single event'
    // The machine's speed can swing by half within minutes: each round measures bare fastify and
    // then every server, and each server's ratio is the median of its rounds' ratios to their bare.
    const bareRounds: Loaded[] = []
    const serverRounds = servers.map(() => [] as { loaded: Loaded; ratio: number; gaveWay: Row[] }[])
    for (let round = 1; round <= rounds; round++) {
      const baseline = await startChild(['--import', 'tsx', 'bench/bare-fastify.ts'], /listening on (\S+)/)
      process.stdout.write(`${shape}, round ${round} of ${rounds}: bare fastify ${durationSeconds}s… `)
      const bare = await load(baseline, `${baseline.url}${path}`, JSON.stringify(payload(shape, 'phc_bench')))
      await baseline.stop()
      bareRounds.push(bare)
      for (const [i, { name, args, env, firstRoundOnly }] of servers.entries()) {
        if (firstRoundOnly && round > 1) continue
        const sluice = await startSluiceChild(args, env)
        try {
          process.stdout.write(`${name} ${durationSeconds}s… `)
          const loaded = await load(
            sluice.server,
            `${sluice.server.url}${path}`,
            JSON.stringify(payload(shape, sluice.token)),
          )
          serverRounds[i]!.push({
            loaded,
            ratio: loaded.result.requests.average / bare.result.requests.average,
            gaveWay: await gaveWayRow(sluice.server.url),
          })
        } finally {
          await sluice.server.stop()
        }
      }
      console.log('done')
    }
    const bare = medianBy(bareRounds, (loaded) => loaded.result.requests.average)
    rows.push(
      loadRow(`${label} — bare fastify`, bare, eventsPerRequest),
      ...roundsRow(
        'requests/s',
        bareRounds.map((loaded) => Math.round(loaded.result.requests.average)),
      ),
      ...busiestRow(bare),
    )
    for (const [i, { name }] of servers.entries()) {
      const measured = serverRounds[i]!
      const typical = medianBy(measured, (m) => m.ratio)
      rows.push(
        loadRow(`${label} — ${name}`, typical.loaded, eventsPerRequest),
        [`  ratio to bare`, typical.ratio.toFixed(2), '', '', '', ''],
        ...roundsRow(
          'ratios',
          measured.map((m) => m.ratio.toFixed(2)),
        ),
        ...busiestRow(typical.loaded),
        ...typical.gaveWay,
      )
    }
  }
  // Capture's cost in parts, with no HTTP: its own work on a request, and the durable append of
  // what it writes — for the design it has (one record per request, the payload as sent) and the
  // design measured against it (a record per event, each serialised once, the capture message's
  // fields in record headers instead of PostHog's message with the event JSON inside JSON).
  for (const design of designs) {
    for (const shape of ['batch', 'single'] as const) {
      process.stdout.write(`${shape}, ${design.name}: capture's work alone… `)
      const work = captureWorkAlone(shape, design)
      process.stdout.write(`the embedded log alone ${durationSeconds}s… `)
      const append = await logCeiling(shape, design, connections)
      console.log('done')
      const events = shape === 'batch' ? 50 : 1
      rows.push(
        [
          `${events}-event requests — ${design.name}: capture's work alone`,
          Math.round(work.requestsPerSecond),
          Math.round(work.requestsPerSecond * events),
          '',
          `${Math.round(work.cpuMicrosPerRequest)} µs`,
          0,
        ],
        [
          `${events}-event requests — ${design.name}: its appends alone, ${connections} at a time`,
          Math.round(append.appendsPerSecond),
          Math.round(append.appendsPerSecond * events),
          `${append.p99.toFixed(1)} ms`,
          `${Math.round(append.cpuMicrosPerAppend)} µs`,
          0,
        ],
      )
    }
  }
  // Group commit: appends waiting together share one commit and fsync, so concurrency multiplies
  // what the log takes; one at a time, each waits for its own.
  process.stdout.write(`single, one append at a time ${durationSeconds}s… `)
  const alone = await logCeiling('single', designs[0]!, 1)
  console.log('done')
  rows.push([
    `1-event requests — request record: one append at a time`,
    Math.round(alone.appendsPerSecond),
    Math.round(alone.appendsPerSecond),
    `${alone.p99.toFixed(1)} ms`,
    `${Math.round(alone.cpuMicrosPerAppend)} µs`,
    0,
  ])
  printTable(['run', 'requests/s', 'events/s', 'p99 latency', 'CPU per request', 'non-2xx'], rows)
  // What handing work to another thread costs on this machine: capture hands each commit to libuv's
  // pool and hears it back, where bare fastify only wakes its client.
  process.stdout.write('a thread handoff… ')
  const handoffs: (string | number)[][] = []
  for (const [where, command] of [
    ['threads on any core', [process.execPath]],
    ['both threads on one core (taskset -c 0)', ['taskset', '-c', '0', process.execPath]],
  ] as const) {
    const handoff = await threadHandoff(command).catch(() => null)
    if (handoff) handoffs.push([where, handoff.micros.toFixed(1), handoff.cpuMicros.toFixed(1)])
  }
  console.log('done')
  printTable(['postMessage to a worker and back', 'µs a round trip', 'CPU µs a round trip'], handoffs)
}

async function threadHandoff(command: readonly string[]): Promise<{ micros: number; cpuMicros: number }> {
  const [file, ...args] = command
  const { stdout } = await run(file!, [...args, '--import', 'tsx', 'bench/thread-handoff.ts'], { cwd: root })
  return JSON.parse(stdout) as { micros: number; cpuMicros: number }
}

interface Design {
  name: string
  topic: string
  /** What capture appends for a request. */
  records(shape: 'batch' | 'single', body: Buffer): LogRecord[]
}

const designs: Design[] = [
  {
    name: 'request record',
    topic: Topics.captureRequests,
    records: (shape, body) =>
      captureRequestRecords(decode(shape, body), {
        now: new Date(),
        ip: '127.0.0.1',
        newUuid: () => uuidV7(),
        siteUrl: 'http://127.0.0.1',
      }),
  },
  {
    name: 'record per event, encoded once',
    topic: Topics.commands,
    records: (shape, body) => {
      const decoded = decode(shape, body)
      const now = new Date().toISOString()
      return decoded.events.map((event) => {
        const distinctId = String(event.distinct_id)
        const uuid = uuidV7()
        const data = { event: event.event, properties: event.properties, uuid, timestamp: event.timestamp }
        return {
          key: `phc_bench:${distinctId}`,
          value: JSON.stringify(data),
          headers: {
            uuid,
            distinct_id: distinctId,
            token: 'phc_bench',
            now,
            ip: '127.0.0.1',
            timestamp: now,
          },
        }
      })
    },
  },
]

function decode(shape: 'batch' | 'single', body: Buffer) {
  return decodeCaptureRequest({
    path: shape === 'single' ? '/e/' : '/batch/',
    method: 'POST',
    query: {},
    headers: {},
    body,
  })
}

function requestBody(shape: 'batch' | 'single'): Buffer {
  return Buffer.from(JSON.stringify(payload(shape, 'phc_bench')))
}

function captureWorkAlone(shape: 'batch' | 'single', design: Design) {
  const seconds = Math.min(3, durationSeconds)
  const body = requestBody(shape)
  let requests = 0
  const cpuBefore = process.cpuUsage()
  const end = performance.now() + seconds * 1000
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) design.records(shape, body)
    requests += 100
  }
  const cpu = process.cpuUsage(cpuBefore)
  return { requestsPerSecond: requests / seconds, cpuMicrosPerRequest: (cpu.user + cpu.system) / requests }
}

async function logCeiling(
  shape: 'batch' | 'single',
  design: Design,
  concurrency: number,
): Promise<{ appendsPerSecond: number; p99: number; cpuMicrosPerAppend: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-log-'))
  // in segment files, as `sluice start` keeps capture's topic (both designs, so they compare)
  const log = createEmbeddedLog({ path: dir, segmentTopics: [design.topic] })
  try {
    await log.ensureTopics([{ name: design.topic, partitions: 4, retention: 'forever' }])
    const records = design.records(shape, requestBody(shape))
    const latencies: number[] = []
    const cpuBefore = process.cpuUsage()
    const end = performance.now() + durationSeconds * 1000
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          const started = performance.now()
          await log.append(design.topic, records)
          latencies.push(performance.now() - started)
        }
      }),
    )
    const cpu = process.cpuUsage(cpuBefore)
    latencies.sort((a, b) => a - b)
    return {
      appendsPerSecond: latencies.length / durationSeconds,
      p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
      // this process's CPU, which here is the log's alone: its encoding, its writes and syncs
      cpuMicrosPerAppend: (cpu.user + cpu.system) / Math.max(1, latencies.length),
    }
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
}

export function payload(shape: 'batch' | 'single', token: string) {
  const event = (i: number) => ({
    event: '$pageview',
    distinct_id: `bench-user-${i % 500}`,
    properties: {
      $current_url: 'https://example.com/pricing',
      $browser: 'Chrome',
      $lib: 'web',
      plan: 'pro',
      i,
    },
    timestamp: '2026-11-25T00:00:00.000Z',
  })
  if (shape === 'single') return { api_key: token, ...event(1) }
  return {
    api_key: token,
    batch: Array.from({ length: 50 }, (_, i) => event(i)),
    sent_at: '2026-11-25T00:00:00.000Z',
  }
}

function loadRow(name: string, { result, cpuMicrosPerRequest }: Loaded, eventsPerRequest: number) {
  return [
    name,
    Math.round(result.requests.average),
    Math.round(result.requests.average * eventsPerRequest),
    `${result.latency.p99} ms`,
    cpuMicrosPerRequest === null ? '—' : `${Math.round(cpuMicrosPerRequest)} µs`,
    result.non2xx,
  ]
}

/**
 * Load for the configured time; with it, the server's CPU time (all threads) per request answered,
 * and its busiest thread's — in `sluice start` capture's — share of a core, time waiting for one
 * (other threads had the cores) and CPU per request (Linux only).
 */
export async function load(server: ChildServer, url: string, body: string) {
  const cpuBefore = server.cpuSeconds()
  const threadsBefore = server.threadTimes()
  const started = performance.now()
  const result = await autocannon({
    url,
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
    connections,
    duration: durationSeconds,
  })
  const seconds = (performance.now() - started) / 1000
  const cpuAfter = server.cpuSeconds()
  const requests = result.requests.total
  const cpuMicrosPerRequest =
    cpuBefore === null || cpuAfter === null || requests === 0
      ? null
      : ((cpuAfter - cpuBefore) * 1e6) / requests
  const threads: ThreadShare[] = []
  for (const [thread, after] of requests > 0 ? server.threadTimes() : []) {
    const before = threadsBefore.get(thread) ?? { cpu: 0, waited: 0 }
    const cpu = after.cpu - before.cpu
    threads.push({
      busy: cpu / seconds,
      waited: (after.waited - before.waited) / seconds,
      microsPerRequest: (cpu * 1e6) / requests,
    })
  }
  const [busiest = null, nextBusiest = null] = threads.sort((a, b) => b.busy - a.busy)
  return { result, cpuMicrosPerRequest, busiest, nextBusiest }
}

/**
 * How long the split waited for capture's saturated thread during the run (step-aside.ts), as a row
 * under its run's: in `sluice start` ingestion steps aside for a burst of up to 10 s.
 */
async function gaveWayRow(url: string): Promise<Row[]> {
  const metrics = await (await fetch(`${url}/metrics`)).text()
  const seconds = /sluice_consumer_gave_way_seconds_total\{group="split"\} ([\d.e+-]+)/.exec(metrics)?.[1]
  if (seconds === undefined) return []
  return [
    [`  the split's batches waited for capture ${Number(seconds).toFixed(1)} s in all`, '', '', '', '', ''],
  ]
}

/** The round in the middle by `value` (the upper one of two). */
export function medianBy<T>(items: readonly T[], value: (item: T) => number): T {
  return [...items].sort((a, b) => value(a) - value(b))[items.length >> 1]!
}

/** Each round's figure, in the order measured, where there was more than one round. */
function roundsRow(what: string, figures: (string | number)[]): Row[] {
  if (figures.length < 2) return []
  return [[`  ${what}, round by round: ${figures.join(', ')}`, '', '', '', '', '']]
}

/** A thread's share of a core during a load, its share waiting for one, and its CPU per request. */
interface ThreadShare {
  busy: number
  waited: number
  microsPerRequest: number
}

/** The busiest thread's figures (or another's, named by `which`) as a row under its run's. */
export function busiestRow({ busiest }: Pick<Loaded, 'busiest'>, which = 'its busiest thread') {
  if (busiest === null) return []
  return [
    [
      `  ${which}: on a core ${busiest.busy.toFixed(2)} of the time, waiting for one ${busiest.waited.toFixed(2)}`,
      '',
      '',
      '',
      `${Math.round(busiest.microsPerRequest)} µs`,
      '',
    ],
  ]
}
