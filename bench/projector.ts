import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClickHouse } from '../adapters/clickhouse/client.ts'
import { migrateClickHouse } from '../adapters/clickhouse/migrate.ts'
import { createEmbeddedLog } from '../adapters/log/embedded/embedded-log.ts'
import { clickHouseTime } from '../commands/ingest/fact-records.ts'
import type { ClickHouse } from '../ports/clickhouse.ts'
import { startClickHouseProjector } from '../projections/clickhouse/projector.ts'
import { findPersons, listEvents } from '../projections/clickhouse/queries.ts'
import type { EventRow, PersonDistinctIdRow, PersonRow } from '../schema/clickhouse-rows.ts'
import { factTopics, Topics } from '../schema/topics.ts'
import { percentile, printTable } from './report.ts'

const projectedEvents = Number(process.env.BENCH_EVENTS ?? 200_000)
const queryPersons = 100_000
const queryEvents = 1_000_000
const chunk = 5000

const uuidOf = (prefix: string, n: number) => `${prefix}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`

/**
 * The projector (fact topic → ClickHouse, committing after each insert) against a raw insert of the
 * same JSONEachRow rows with the same client, in one run on chDB; then query latency of the
 * deduplicating person and event queries at 100k persons and 1M events.
 */
export async function projectorBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-ch-'))
  const clickhouse = createClickHouse({ kind: 'chdb', path: join(dir, 'clickhouse') })
  const log = createEmbeddedLog({ path: join(dir, 'log') })
  try {
    await migrateClickHouse(clickhouse)
    await log.ensureTopics(
      Object.values(Topics).map((name) => ({ name, partitions: 1, retention: 'forever' as const })),
    )
    const rows = Array.from({ length: projectedEvents }, (_, i) => eventRow(i, i % 10_000))

    process.stdout.write(`raw insert of ${rows.length} event rows… `)
    const rawStarted = performance.now()
    for (let i = 0; i < rows.length; i += chunk) await clickhouse.insert('events', rows.slice(i, i + chunk))
    const rawSeconds = (performance.now() - rawStarted) / 1000

    process.stdout.write('appending them to the fact topic… ')
    for (let i = 0; i < rows.length; i += chunk) {
      await log.append(
        Topics.events,
        rows.slice(i, i + chunk).map((row) => ({ key: row.uuid, value: JSON.stringify(row) })),
      )
    }
    process.stdout.write('projecting… ')
    const projectStarted = performance.now()
    const projector = startClickHouseProjector({ log, clickhouse, maxBatchSize: chunk })
    for (;;) {
      const committed = (await log.committedOffsets('clickhouse-projector', Topics.events)).get(0) ?? 0
      if (committed >= rows.length) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const projectSeconds = (performance.now() - projectStarted) / 1000
    await projector.stop()
    console.log('done')
    printTable(
      ['path', 'rows', 'rows/s', 'ratio'],
      [
        ['raw insert (JSONEachRow, same client)', rows.length, Math.round(rows.length / rawSeconds), '1.00'],
        [
          'projector (log → ClickHouse, commit after insert)',
          rows.length,
          Math.round(rows.length / projectSeconds),
          (rawSeconds / projectSeconds).toFixed(2),
        ],
      ],
    )
    await streamingCost(clickhouse, dir)
    await queryLatency(clickhouse)
  } finally {
    await log.close()
    await clickhouse.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * The projector's CPU (the whole process: chDB's threads included) under a steady stream of event
 * rows, as ingest appends them batch by batch, with its inserts gathered while the table is busy
 * (the default) and with every batch inserted at once (`maxGatherMs: 0`), in turns.
 */
async function streamingCost(clickhouse: ClickHouse, dir: string): Promise<void> {
  const streams = [
    { rate: 3000, perAppend: 50 },
    { rate: 12_000, perAppend: 100 },
  ]
  const seconds = 5
  const results: (string | number)[][] = []
  let run = 0
  for (const { rate, perAppend } of streams) {
    const rows = rate * seconds
    const appends = Array.from({ length: rows / perAppend }, (_, a) =>
      Array.from({ length: perAppend }, (_, j) => {
        const row = eventRow(a * perAppend + j, j)
        return { key: row.uuid, value: JSON.stringify(row) }
      }),
    )
    const cost: Record<string, number> = {}
    for (const maxGatherMs of [0, undefined]) {
      const gathered = maxGatherMs === undefined
      process.stdout.write(`${rate} rows/s, ${gathered ? 'gathered' : 'at once'}… `)
      await clickhouse.command('TRUNCATE TABLE events')
      const log = createEmbeddedLog({ path: join(dir, `stream-${run++}`) })
      await log.ensureTopics(
        factTopics.map((name) => ({ name, partitions: 1, retention: 'forever' as const })),
      )
      let inserts = 0
      const projector = startClickHouseProjector({
        log,
        clickhouse,
        maxGatherMs,
        onBatch: (topic) => {
          if (topic === Topics.events) inserts++
        },
      })
      const cpu = process.cpuUsage()
      const started = performance.now()
      for (const [a, records] of appends.entries()) {
        await log.append(Topics.events, records)
        const due = started + ((a + 1) * perAppend * 1000) / rate - performance.now()
        if (due > 0) await new Promise((resolve) => setTimeout(resolve, due))
      }
      while (((await log.committedOffsets('clickhouse-projector', Topics.events)).get(0) ?? 0) < rows)
        await new Promise((resolve) => setTimeout(resolve, 10))
      const used = process.cpuUsage(cpu)
      await projector.stop()
      await log.close()
      const key = gathered ? 'gathered' : 'at once'
      cost[key] = (used.user + used.system) / rows
      results.push([
        `${rate} rows/s in appends of ${perAppend}, ${key}`,
        inserts,
        `${cost[key]!.toFixed(0)} µs`,
        gathered ? (cost[key]! / cost['at once']!).toFixed(2) : '1.00',
      ])
    }
  }
  console.log('done')
  printTable(['stream (5 s, chDB)', 'inserts', 'CPU per row (process)', 'ratio'], results)
}

async function queryLatency(clickhouse: ClickHouse): Promise<void> {
  process.stdout.write(`loading ${queryPersons} persons and ${queryEvents} events for the query benchmark… `)
  await clickhouse.command('TRUNCATE TABLE events')
  for (let i = 0; i < queryPersons; i += chunk) {
    const n = Array.from({ length: Math.min(chunk, queryPersons - i) }, (_, j) => i + j)
    await clickhouse.insert<PersonRow>('person', n.map(personRow))
    // every person has had an update: two versions of each row, as a merge-free history leaves them
    await clickhouse.insert<PersonRow>(
      'person',
      n.map((k) => ({ ...personRow(k), version: 1 })),
    )
    await clickhouse.insert<PersonDistinctIdRow>(
      'person_distinct_id2',
      n.map((k) => ({
        person_id: uuidOf('00000000', k),
        team_id: 1,
        distinct_id: `user-${k}`,
        version: 0,
        is_deleted: 0,
      })),
    )
  }
  for (let i = 0; i < queryEvents; i += 50_000) {
    await clickhouse.insert<EventRow>(
      'events',
      Array.from({ length: 50_000 }, (_, j) => eventRow(i + j, (i + j) % queryPersons)),
    )
  }
  console.log('done')
  const timings: Record<string, number[]> = {
    'person by distinct id': [],
    'person search by email': [],
    'events of a distinct id': [],
    'latest 100 events': [],
  }
  for (let i = 0; i < 20; i++) {
    const k = (i * 7919) % queryPersons
    await time(timings['person by distinct id']!, () =>
      findPersons(clickhouse, { teamId: 1, distinctId: `user-${k}`, limit: 100, offset: 0 }),
    )
    await time(timings['person search by email']!, () =>
      findPersons(clickhouse, { teamId: 1, search: `user${k}@example.com`, limit: 100, offset: 0 }),
    )
    await time(timings['events of a distinct id']!, () =>
      listEvents(clickhouse, { teamId: 1, distinctId: `user-${k}`, limit: 100 }),
    )
    await time(timings['latest 100 events']!, () => listEvents(clickhouse, { teamId: 1, limit: 100 }))
  }
  printTable(
    ['query (chDB, 100k persons × 2 versions, 1M events)', 'runs', 'p50', 'p99'],
    Object.entries(timings).map(([name, samples]) => [
      name,
      samples.length,
      `${percentile(samples, 50).toFixed(0)} ms`,
      `${percentile(samples, 99).toFixed(0)} ms`,
    ]),
  )
}

async function time(samples: number[], query: () => Promise<unknown>) {
  const started = performance.now()
  await query()
  samples.push(performance.now() - started)
}

function personRow(k: number): PersonRow {
  return {
    id: uuidOf('00000000', k),
    created_at: '2026-01-01 00:00:00.000',
    properties: JSON.stringify({ email: `user${k}@example.com`, plan: k % 3 === 0 ? 'pro' : 'free' }),
    team_id: 1,
    is_identified: 1,
    is_deleted: 0,
    version: 0,
  }
}

function eventRow(i: number, person: number): EventRow {
  const timestamp = clickHouseTime(new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString())
  return {
    uuid: uuidOf('0190f0a0', i),
    event: i % 5 === 0 ? 'signed_up' : '$pageview',
    properties: JSON.stringify({
      $current_url: 'https://example.com/pricing',
      $browser: 'Chrome',
      plan: 'pro',
      i,
    }),
    timestamp,
    team_id: 1,
    project_id: 1,
    distinct_id: `user-${person}`,
    elements_chain: '',
    created_at: timestamp,
    captured_at: timestamp,
    person_id: uuidOf('00000000', person),
    person_properties: '{}',
    person_created_at: '2026-01-01 00:00:00.000',
    person_mode: 'full',
  }
}
