import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { uuidV7 } from '../adapters/http/uuid-v7.ts'
import { createEmbeddedLog } from '../adapters/log/embedded/embedded-log.ts'
import { buildCaptureCommands } from '../commands/capture/build-commands.ts'
import { decodeCaptureRequest } from '../commands/capture/decode-request.ts'
import { Topics } from '../schema/topics.ts'
import { type ChildServer, startChild, startSluiceChild } from './child-server.ts'
import { printTable } from './report.ts'

const durationSeconds = Number(process.env.BENCH_SECONDS ?? 10)
const connections = 16

/**
 * Capture throughput against a bare fastify server that parses the same JSON and answers 200, in
 * the same run: 50-event batches to /batch/ and single events to /e/, 16 concurrent connections.
 * sluice is measured as a user starts it — `sluice start`, every role in one process, so ingest,
 * the projector and the API run beside capture on the same two cores — with capture on a thread
 * of its own (the default) and on the main thread (SLUICE_CAPTURE_THREAD=off); then the capture
 * role alone. Every 200 means the events are fsynced in the command log. CPU per request is the
 * server process's, all threads (Linux only). Then two parts of capture's cost alone: its very
 * records appended straight to the embedded log (the ceiling the durable log sets, and an append's
 * CPU), and its own work on the request — decoding, checking, normalising, serialising — with no
 * HTTP and no log.
 */
export async function captureBench(): Promise<void> {
  const rows: (string | number)[][] = []
  const servers: { name: string; args: string[]; env: NodeJS.ProcessEnv }[] = [
    { name: 'sluice start, capture thread', args: [], env: {} },
    { name: 'sluice start, capture on the main thread', args: [], env: { SLUICE_CAPTURE_THREAD: 'off' } },
    { name: 'capture role alone', args: ['--roles', 'capture'], env: {} },
  ]
  for (const shape of ['batch', 'single'] as const) {
    const eventsPerRequest = shape === 'batch' ? 50 : 1
    const path = shape === 'batch' ? '/batch/' : '/e/'
    const label = shape === 'batch' ? '50-event batch' : 'single event'
    const baseline = await startChild(['--import', 'tsx', 'bench/bare-fastify.ts'], /listening on (\S+)/)
    process.stdout.write(`${shape}: bare fastify ${durationSeconds}s… `)
    const bare = await load(baseline, `${baseline.url}${path}`, JSON.stringify(payload(shape, 'phc_bench')))
    await baseline.stop()
    rows.push(loadRow(`${label} — bare fastify`, bare, eventsPerRequest))
    for (const { name, args, env } of servers) {
      const sluice = await startSluiceChild(args, env)
      try {
        process.stdout.write(`${name} ${durationSeconds}s… `)
        const ours = await load(
          sluice.server,
          `${sluice.server.url}${path}`,
          JSON.stringify(payload(shape, sluice.token)),
        )
        rows.push(loadRow(`${label} — ${name}`, ours, eventsPerRequest))
        rows.push([
          `  ratio to bare`,
          (ours.result.requests.average / bare.result.requests.average).toFixed(2),
          '',
          '',
          '',
          '',
        ])
      } finally {
        await sluice.server.stop()
      }
    }
    console.log('done')
  }
  // The ceiling the durable log sets, with no HTTP and no capture work: the same appends, made directly.
  for (const shape of ['batch', 'single'] as const) {
    process.stdout.write(`${shape}: embedded log alone ${durationSeconds}s… `)
    const { appendsPerSecond, p99, cpuMicrosPerAppend } = await logCeiling(shape === 'batch' ? 50 : 1)
    console.log('done')
    rows.push([
      `${shape === 'batch' ? '50-record' : '1-record'} appends — embedded log alone`,
      Math.round(appendsPerSecond),
      Math.round(appendsPerSecond * (shape === 'batch' ? 50 : 1)),
      `${p99.toFixed(1)} ms`,
      `${Math.round(cpuMicrosPerAppend)} µs`,
      0,
    ])
  }
  // And capture's own work, with no HTTP and no log: decoding, checking, normalising, serialising.
  for (const shape of ['batch', 'single'] as const) {
    process.stdout.write(`${shape}: capture's work alone… `)
    const { requestsPerSecond, cpuMicrosPerRequest } = captureWorkAlone(shape)
    console.log('done')
    rows.push([
      `${shape === 'batch' ? '50-event' : '1-event'} requests — capture's work alone`,
      Math.round(requestsPerSecond),
      Math.round(requestsPerSecond * (shape === 'batch' ? 50 : 1)),
      '',
      `${Math.round(cpuMicrosPerRequest)} µs`,
      0,
    ])
  }
  printTable(['run', 'requests/s', 'events/s', 'p99 latency', 'CPU per request', 'non-2xx'], rows)
}

function requestBody(shape: 'batch' | 'single'): Buffer {
  return Buffer.from(JSON.stringify(payload(shape, 'phc_bench')))
}

/** The benchmark's request turned into log records (commands serialised), as capture does it. */
function captureRecords(shape: 'batch' | 'single', body: Buffer) {
  const path = shape === 'single' ? '/e/' : '/batch/'
  const { commands } = buildCaptureCommands(
    decodeCaptureRequest({ path, method: 'POST', query: {}, headers: {}, body }),
    { now: new Date(), ip: '127.0.0.1', newUuid: () => uuidV7(), siteUrl: 'http://127.0.0.1' },
  )
  return commands.map((command) => ({
    key: `${command.token}:${command.distinct_id}`,
    value: JSON.stringify(command),
  }))
}

function captureWorkAlone(shape: 'batch' | 'single') {
  const seconds = Math.min(3, durationSeconds)
  const body = requestBody(shape)
  let requests = 0
  const cpuBefore = process.cpuUsage()
  const end = performance.now() + seconds * 1000
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) captureRecords(shape, body)
    requests += 100
  }
  const cpu = process.cpuUsage(cpuBefore)
  return { requestsPerSecond: requests / seconds, cpuMicrosPerRequest: (cpu.user + cpu.system) / requests }
}

async function logCeiling(
  recordsPerAppend: number,
): Promise<{ appendsPerSecond: number; p99: number; cpuMicrosPerAppend: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-log-'))
  const log = createEmbeddedLog({ path: dir })
  try {
    await log.ensureTopics([{ name: Topics.commands, partitions: 4, retention: 'forever' }])
    const shape = recordsPerAppend === 1 ? 'single' : 'batch'
    const records = captureRecords(shape, requestBody(shape))
    const latencies: number[] = []
    const cpuBefore = process.cpuUsage()
    const end = performance.now() + durationSeconds * 1000
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (performance.now() < end) {
          const started = performance.now()
          await log.append(Topics.commands, records)
          latencies.push(performance.now() - started)
        }
      }),
    )
    const cpu = process.cpuUsage(cpuBefore)
    latencies.sort((a, b) => a - b)
    return {
      appendsPerSecond: latencies.length / durationSeconds,
      p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
      // this process's CPU, which here is the log's alone: its encoding, LMDB's commits and syncs
      cpuMicrosPerAppend: (cpu.user + cpu.system) / Math.max(1, latencies.length),
    }
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
}

function payload(shape: 'batch' | 'single', token: string) {
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

function loadRow(
  name: string,
  { result, cpuMicrosPerRequest }: Awaited<ReturnType<typeof load>>,
  eventsPerRequest: number,
) {
  return [
    name,
    Math.round(result.requests.average),
    Math.round(result.requests.average * eventsPerRequest),
    `${result.latency.p99} ms`,
    cpuMicrosPerRequest === null ? '—' : `${Math.round(cpuMicrosPerRequest)} µs`,
    result.non2xx,
  ]
}

/** Load for the configured time; with it, the server's CPU time (all threads) per request answered. */
async function load(server: ChildServer, url: string, body: string) {
  const cpuBefore = server.cpuSeconds()
  const result = await autocannon({
    url,
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
    connections,
    duration: durationSeconds,
  })
  const cpuAfter = server.cpuSeconds()
  const requests = result.requests.total
  const cpuMicrosPerRequest =
    cpuBefore === null || cpuAfter === null || requests === 0
      ? null
      : ((cpuAfter - cpuBefore) * 1e6) / requests
  return { result, cpuMicrosPerRequest }
}
