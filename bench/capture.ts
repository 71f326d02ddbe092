import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { createEmbeddedLog } from '../adapters/log/embedded/embedded-log.ts'
import { Topics } from '../schema/topics.ts'
import { startChild, startSluiceChild } from './child-server.ts'
import { printTable } from './report.ts'

const durationSeconds = Number(process.env.BENCH_SECONDS ?? 10)
const connections = 16

/**
 * Capture throughput against a bare fastify server that parses the same JSON and answers 200, in
 * the same run: 50-event batches to /batch/ and single events to /e/, 16 concurrent connections.
 * sluice runs the capture role alone, so the figure is capture's own cost (every 200 means the
 * events are fsynced in the command log).
 */
export async function captureBench(): Promise<void> {
  const rows: (string | number)[][] = []
  const baseline = await startChild(['--import', 'tsx', 'bench/bare-fastify.ts'], /listening on (\S+)/)
  const sluice = await startSluiceChild(['--roles', 'capture'])
  try {
    for (const shape of ['batch', 'single'] as const) {
      const eventsPerRequest = shape === 'batch' ? 50 : 1
      const path = shape === 'batch' ? '/batch/' : '/e/'
      const body = JSON.stringify(payload(shape, sluice.token))
      process.stdout.write(`${shape}: bare fastify ${durationSeconds}s… `)
      const bare = await load(`${baseline.url}${path}`, body)
      process.stdout.write(`sluice ${durationSeconds}s… `)
      const ours = await load(`${sluice.server.url}${path}`, body)
      console.log('done')
      for (const [name, result] of [
        ['bare fastify', bare],
        ['sluice capture', ours],
      ] as const) {
        rows.push([
          `${shape === 'batch' ? '50-event batch' : 'single event'} — ${name}`,
          Math.round(result.requests.average),
          Math.round(result.requests.average * eventsPerRequest),
          `${result.latency.p99} ms`,
          result.non2xx,
        ])
      }
      rows.push([
        `${shape} ratio sluice / bare`,
        (ours.requests.average / bare.requests.average).toFixed(2),
        '',
        '',
        '',
      ])
    }
  } finally {
    await sluice.server.stop()
    await baseline.stop()
  }
  // The ceiling the durable log sets, with no HTTP and no capture work: the same appends, made directly.
  for (const shape of ['batch', 'single'] as const) {
    process.stdout.write(`${shape}: embedded log alone ${durationSeconds}s… `)
    const { appendsPerSecond, p99 } = await logCeiling(shape === 'batch' ? 50 : 1)
    console.log('done')
    rows.push([
      `${shape === 'batch' ? '50-record' : '1-record'} appends — embedded log alone`,
      Math.round(appendsPerSecond),
      Math.round(appendsPerSecond * (shape === 'batch' ? 50 : 1)),
      `${p99.toFixed(1)} ms`,
      0,
    ])
  }
  printTable(['run', 'requests/s', 'events/s', 'p99 latency', 'non-2xx'], rows)
}

async function logCeiling(recordsPerAppend: number): Promise<{ appendsPerSecond: number; p99: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-log-'))
  const log = createEmbeddedLog({ path: dir })
  try {
    await log.ensureTopics([{ name: Topics.commands, partitions: 4, retention: 'forever' }])
    const event = payload('single', 'phc_bench')
    const records = Array.from({ length: recordsPerAppend }, (_, i) => ({
      key: `phc_bench:bench-user-${i % 500}`,
      value: JSON.stringify({
        uuid: crypto.randomUUID(),
        distinct_id: `bench-user-${i}`,
        data: JSON.stringify(event),
        now: '2026-11-25T00:00:00.000Z',
      }),
    }))
    const latencies: number[] = []
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
    latencies.sort((a, b) => a - b)
    return {
      appendsPerSecond: latencies.length / durationSeconds,
      p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
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

function load(url: string, body: string): Promise<autocannon.Result> {
  return autocannon({
    url,
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
    connections,
    duration: durationSeconds,
  })
}
