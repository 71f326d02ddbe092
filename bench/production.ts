import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { createKafkaLog } from '../adapters/log/kafka/kafka-log.ts'
import { kafkaBootstrap } from '../tests/support/kafka-broker.ts'
import { createTestDatabase, postgresServerReachable } from '../tests/support/postgres-server.ts'
import { type ChildServer, startSluiceChild, type ThreadTimes } from './child-server.ts'
import { percentile, printTable } from './report.ts'

const run = promisify(execFile)
const root = new URL('..', import.meta.url).pathname
const events = Number(process.env.BENCH_EVENTS ?? 60_000)
if (events > 100_000) throw new Error('BENCH_EVENTS: the events API lists at most 100 000 events')
const warmUpEvents = Number(process.env.BENCH_WARMUP_EVENTS ?? 20_000)
const produceRecords = 200_000
const recordSize = 300
const modes = (process.env.BENCH_MODES ?? 'embedded,production').split(',').map((mode) => {
  if (mode !== 'embedded' && mode !== 'production')
    throw new Error(`BENCH_MODES: ${mode} is neither embedded nor production`)
  return mode
})

/**
 * Production mode (Kafka + PostgreSQL, all roles in one process) against embedded mode, in one run:
 * end-to-end events/s until everything is queryable, and capture→queryable lag. Then the Kafka
 * adapter's produce throughput against the broker's own ProducerPerformance tool on the same broker.
 */
export async function productionBench(): Promise<void> {
  const production = modes.includes('production')
  if (production && (await postgresServerReachable()) !== null)
    throw new Error('the production benchmark needs PostgreSQL on 127.0.0.1:5432')
  if (production) await run('bash', [`${root}scripts/kafka.sh`, '--daemon'], { timeout: 300_000 })
  const rows: (string | number)[][] = []
  for (const mode of modes) {
    const database = mode === 'production' ? await createTestDatabase('sluice_bench_test') : null
    const args = database
      ? [
          '--kafka',
          kafkaBootstrap,
          '--postgres',
          database.url,
          '--kafka-prefix',
          `bench_${Date.now().toString(36)}_`,
        ]
      : []
    process.stdout.write(`${mode}: starting… `)
    const { server, token, key } = await startSluiceChild(args)
    try {
      if (warmUpEvents > 0) {
        // the first seconds of a fresh process compile its hot code (V8 and PGlite's WebAssembly)
        process.stdout.write(`warming up with ${warmUpEvents} events… `)
        await sendEvents(server.url, token, 'warm-up', warmUpEvents)
        await waitUntil(() => nothingToConsume(server.url, key), 600_000)
      }
      process.stdout.write(`sending ${events} events… `)
      const started = performance.now()
      const cpuAtStart = server.cpuSeconds()
      const threadsAtStart = server.threadTimes()
      await sendEvents(server.url, token, 'bench', events)
      const accepted = performance.now()
      const threadsAtAccepted = server.threadTimes()
      // Queryable once no consumer lags: the projector moves on only after ClickHouse has the rows.
      // The events are then listed to prove it, outside the time measured (a list of 100 000 events
      // takes seconds of its own); a count short of them would go on waiting.
      let queryable = 0
      let cpuAtQueryable: number | null = null
      let threadsAtQueryable = new Map<number, ThreadTimes>()
      await waitUntil(async () => {
        if (!(await nothingToConsume(server.url, key))) return false
        queryable = performance.now()
        cpuAtQueryable = server.cpuSeconds()
        threadsAtQueryable = server.threadTimes()
        return (await countEvents(server.url, key, 'bench')) >= events
      }, 600_000)
      if (process.env.BENCH_THREADS)
        console.log(
          threadsReport(
            server,
            { start: threadsAtStart, accepted: threadsAtAccepted, queryable: threadsAtQueryable },
            { burst: (accepted - started) / 1000, after: (queryable - accepted) / 1000 },
          ),
        )
      process.stdout.write('measuring lag… ')
      const lags: number[] = []
      for (let i = 0; i < 30; i++) lags.push(await timeToQueryable(server.url, token, key, `lag-${i}`, 5))
      console.log('done')
      const untilQueryable = (queryable - started) / 1000
      rows.push([
        mode,
        Math.round(events / ((accepted - started) / 1000)),
        Math.round(events / untilQueryable),
        ...cpuColumns(cpuAtStart, cpuAtQueryable, untilQueryable),
        mainThreadColumn(
          mainThreadOf(server, threadsAtStart),
          mainThreadOf(server, threadsAtQueryable),
          untilQueryable,
        ),
        `${percentile(lags, 50).toFixed(0)} ms`,
        `${percentile(lags, 99).toFixed(0)} ms`,
      ])
    } finally {
      await server.stop()
      await database?.drop()
    }
  }
  printTable(
    [
      'mode',
      'capture events/s',
      'end-to-end events/s (until queryable)',
      'CPU per event',
      'cores used',
      'main thread on a core / waiting for one',
      'lag p50',
      'lag p99',
    ],
    rows,
  )
  if (production) await producePerformance()
}

/**
 * What sluice's process spent, all threads, from the first event sent until all were queryable: the
 * CPU each event costs bounds end to end at (cores / CPU per event), whatever the threads do.
 */
function cpuColumns(before: number | null, after: number | null, seconds: number): string[] {
  if (before === null || after === null) return ['n/a', 'n/a']
  const cpu = after - before
  return [`${((cpu / events) * 1e6).toFixed(0)} µs`, (cpu / seconds).toFixed(2)]
}

/** The main thread — ingest, the projector, the API — whose share of the time bounds end to end when it is never idle. */
function mainThreadOf(server: ChildServer, threads: Map<number, ThreadTimes>): ThreadTimes | undefined {
  return server.pid === undefined ? undefined : threads.get(server.pid)
}

/**
 * `BENCH_THREADS=1`: each thread's seconds on a core and waiting for one while the events were sent
 * (the burst) and after, until they were queryable — which thread the end waits for, and on whom.
 */
function threadsReport(
  server: ChildServer,
  { start, accepted, queryable }: Record<'start' | 'accepted' | 'queryable', Map<number, ThreadTimes>>,
  seconds: { burst: number; after: number },
): string {
  const lines = [
    `\nburst ${seconds.burst.toFixed(2)} s, after it ${seconds.after.toFixed(2)} s (on a core / waiting)`,
  ]
  const spent = (from: ThreadTimes | undefined, to: ThreadTimes | undefined) =>
    `${((to?.cpu ?? 0) - (from?.cpu ?? 0)).toFixed(2)} / ${((to?.waited ?? 0) - (from?.waited ?? 0)).toFixed(2)}`
  for (const [thread, times] of queryable) {
    if (times.cpu - (start.get(thread)?.cpu ?? 0) < 0.02) continue
    const name = thread === server.pid ? 'main' : threadName(server.pid, thread)
    const during = spent(start.get(thread), accepted.get(thread))
    lines.push(`  ${name.padEnd(16)} ${thread}  burst ${during}  after ${spent(accepted.get(thread), times)}`)
  }
  return lines.join('\n')
}

function threadName(pid: number | undefined, thread: number): string {
  try {
    return readFileSync(`/proc/${pid}/task/${thread}/comm`, 'utf8').trim()
  } catch {
    return '?'
  }
}

function mainThreadColumn(before: ThreadTimes | undefined, after: ThreadTimes | undefined, seconds: number) {
  if (before === undefined || after === undefined) return 'n/a'
  return `${((after.cpu - before.cpu) / seconds).toFixed(2)} / ${((after.waited - before.waited) / seconds).toFixed(2)}`
}

async function producePerformance(): Promise<void> {
  const topic = `bench_produce_${Date.now().toString(36)}`
  const log = createKafkaLog({ brokers: [kafkaBootstrap], clientId: 'sluice-bench' })
  await log.ensureTopics([{ name: topic, partitions: 4, retention: 'default' }])
  const value = 'x'.repeat(recordSize)
  process.stdout.write(`kafka adapter: ${produceRecords} records… `)
  const started = performance.now()
  await Promise.all(
    Array.from({ length: 16 }, async (_, worker) => {
      for (let i = worker * 500; i < produceRecords; i += 16 * 500) {
        await log.append(
          topic,
          Array.from({ length: 500 }, (_, j) => ({ key: `k${i + j}`, value })),
        )
      }
    }),
  )
  const adapterRate = produceRecords / ((performance.now() - started) / 1000)
  await log.close()
  process.stdout.write('broker tool… ')
  const libs = `${root}.cache/kafka/libs-4.3.1/*`
  const { stdout } = await run(
    'java',
    [
      '-cp',
      libs,
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      topic,
      '--num-records',
      String(produceRecords),
      '--record-size',
      String(recordSize),
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${kafkaBootstrap}`,
      'acks=all',
      'compression.type=gzip',
      'enable.idempotence=true',
    ],
    { timeout: 300_000, maxBuffer: 10 * 1024 * 1024 },
  )
  const summary = stdout.trim().split('\n').at(-1) ?? ''
  const toolRate = Number(/([\d.]+) records\/sec/.exec(summary)?.[1])
  console.log('done')
  printTable(
    ['producer (acks=all, gzip, idempotent, 300-byte records)', 'records/s', 'ratio'],
    [
      ['kafka-producer-perf-test (ProducerPerformance, Java client)', Math.round(toolRate), '1.00'],
      [
        'sluice Kafka adapter (kafkajs, 16 concurrent appends of 500)',
        Math.round(adapterRate),
        (adapterRate / toolRate).toFixed(2),
      ],
    ],
  )
}

/** `count` events of 2 000 users in batches of 100, from 8 senders at once. */
export async function sendEvents(url: string, token: string, event: string, count: number): Promise<void> {
  const senders = Array.from({ length: 8 }, async (_, worker) => {
    for (let i = worker * 100; i < count; i += 800)
      await sendBatch(url, token, event, i, Math.min(100, count - i))
  })
  await Promise.all(senders)
}

/** One `/batch/` request of `size` events numbered from `first`, spread over 2 000 users. */
export async function sendBatch(url: string, token: string, event: string, first: number, size: number) {
  const batch = Array.from({ length: size }, (_, j) => ({
    event,
    distinct_id: `user-${(first + j) % 2000}`,
    properties: { n: first + j },
  }))
  const response = await fetch(`${url}/batch/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ api_key: token, batch }),
  })
  if (response.status !== 200) throw new Error(`capture answered ${response.status}`)
}

/** Milliseconds from capture's answer to a single event until the events API shows it. */
export async function timeToQueryable(
  url: string,
  token: string,
  key: string,
  distinctId: string,
  pollMs: number,
): Promise<number> {
  await fetch(`${url}/e/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ api_key: token, event: 'lag', distinct_id: distinctId }),
  })
  const answered = performance.now()
  await waitUntil(async () => (await countEvents(url, key, 'lag', distinctId)) > 0, 60_000, pollMs)
  return performance.now() - answered
}

async function countEvents(url: string, key: string, event: string, distinctId?: string): Promise<number> {
  const query = `event=${event}&limit=100000${distinctId ? `&distinct_id=${distinctId}` : ''}`
  const response = await fetch(`${url}/api/projects/1/events/?${query}`, {
    headers: { authorization: `Bearer ${key}` },
  })
  const body = (await response.json()) as { results?: unknown[] }
  return body.results?.length ?? 0
}

export async function nothingToConsume(url: string, key: string): Promise<boolean> {
  const response = await fetch(`${url}/api/ingestion_status/`, {
    headers: { authorization: `Bearer ${key}` },
  })
  const status = (await response.json()) as { consumers?: { lag: number | null }[] }
  return (status.consumers ?? []).every((consumer) => consumer.lag === 0)
}

export async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
