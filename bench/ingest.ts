import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { createEmbeddedLog } from '../adapters/log/embedded/embedded-log.ts'
import { type Db, openPostgres, type PostgresConfig } from '../adapters/postgres/connect.ts'
import { openApps } from '../adapters/runtime/apps.ts'
import { defaults } from '../adapters/runtime/config.ts'
import { createIngestBatchHandler } from '../commands/ingest/ingest-batch.ts'
import { createTokenCache } from '../commands/projects/token-cache.ts'
import { emptyIdentityState } from '../domain/identity/state.ts'
import { decideBatch } from '../domain/ingest/decide-batch.ts'
import { parseCommand } from '../domain/ingest/pipeline-event.ts'
import type { LogMessage } from '../ports/log.ts'
import type { Logger } from '../ports/logger.ts'
import { postgresIdentityStore } from '../projections/postgres/identity-store.ts'
import { postgresProjectStore } from '../projections/postgres/project-store.ts'
import type { CaptureCommand } from '../schema/command.ts'
import type { PersonSnapshot } from '../schema/facts.ts'
import { Topics } from '../schema/topics.ts'
import { createTestDatabase, postgresServerReachable } from '../tests/support/postgres-server.ts'
import { printTable } from './report.ts'

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} }
const batchSize = 1000
const existingUsers = 5000
const measuredEvents = Number(process.env.BENCH_EVENTS ?? 20_000)
const rounds = 4
const warmUpEvents = 5 * batchSize

/**
 * Ingest with person processing (80% events of existing users with a `$set`, 15% new users, 5%
 * identify/alias merges) against a raw batched upsert of the very rows ingest wrote into the same
 * database, in one run, on PGlite and on the PostgreSQL server. Before timing, the users are
 * created and a few batches of the same mix warm the code up; then ingest and baseline alternate.
 */
export async function ingestBench(): Promise<void> {
  const rows: (string | number)[][] = []
  const targets: {
    name: string
    open: () => Promise<{ config: PostgresConfig; drop: () => Promise<void> }>
  }[] = [
    {
      name: 'PGlite',
      // on disk, as in a sluice data dir
      open: async () => {
        const dataDir = mkdtempSync(join(tmpdir(), 'sluice-bench-pglite-'))
        return {
          config: { kind: 'pglite', dataDir },
          drop: async () => rmSync(dataDir, { recursive: true, force: true }),
        }
      },
    },
  ]
  if ((await postgresServerReachable()) === null) {
    targets.push({
      name: 'PostgreSQL',
      open: async () => {
        const database = await createTestDatabase('sluice_bench_test')
        return { config: { kind: 'pg', url: database.url }, drop: database.drop }
      },
    })
  } else console.log('PostgreSQL server not reachable: measuring PGlite only')

  for (const target of targets) {
    const { config, drop } = await target.open()
    const db = await openPostgres(config)
    const logDir = mkdtempSync(join(tmpdir(), 'sluice-bench-log-'))
    const log = createEmbeddedLog({ path: logDir })
    try {
      await log.ensureTopics(
        Object.values(Topics).map((name) => ({ name, partitions: 1, retention: 'forever' as const })),
      )
      const token = `phc_bench_${Date.now()}`
      const { project } = await postgresProjectStore(db).createProject({
        name: 'bench',
        apiToken: token,
        personalApiKey: `phx_${token}`,
      })
      const handler = createIngestBatchHandler({
        identities: postgresIdentityStore(db, { exclusive: config.kind === 'pglite' }),
        tokens: createTokenCache(postgresProjectStore(db)),
        log,
        groupId: 'bench',
        logger: quiet,
        now: () => new Date(),
        // as `sluice start` runs ingest: the apps step asks for the project's apps, and it has none
        apps: openApps(defaults.apps, db).ingestStep({ logger: quiet }),
      })
      let offset = 0
      const run = async (commands: CaptureCommand[]) => {
        for (let i = 0; i < commands.length; i += batchSize) {
          const messages: LogMessage[] = commands.slice(i, i + batchSize).map((c) => ({
            topic: Topics.commands,
            partition: 0,
            offset: offset++,
            timestamp: 0,
            key: `${c.token}:${c.distinct_id}`,
            value: JSON.stringify(c),
          }))
          await handler.apply({ topic: Topics.commands, partition: 0, messages })
        }
        await handler.drain()
      }
      process.stdout.write(
        `${target.name}: creating ${existingUsers} users, then ${warmUpEvents} events to warm up… `,
      )
      const users = Array.from({ length: existingUsers }, (_, i) =>
        command(token, 'signed_up', `user-${i}`, { $set: { plan: 'free' } }),
      )
      const workloadEvents = workload(token, warmUpEvents + measuredEvents)
      const warmUp = workloadEvents.slice(0, warmUpEvents)
      const mix = workloadEvents.slice(warmUpEvents)
      // untimed, so the measured rounds meet compiled code and the state they would in a running ingest
      await run([...users, ...warmUp])
      const measuredRows = rowsPerBatch([...users, ...warmUp], mix, project.id)
      await prepareBaseline(db, rowsPerBatch([], [...users, ...warmUp], project.id))
      // Ingest and baseline take turns, so a busy spell on a shared machine hits both alike.
      const batchesPerRound = Math.ceil(measuredRows.length / rounds)
      let ingestSeconds = 0
      let baselineSeconds = 0
      const roundRatios: string[] = []
      for (let round = 0; round < rounds; round++) {
        const batches = measuredRows.slice(round * batchesPerRound, (round + 1) * batchesPerRound)
        if (batches.length === 0) break
        const commands = mix.slice(
          round * batchesPerRound * batchSize,
          (round + 1) * batchesPerRound * batchSize,
        )
        process.stdout.write(`round ${round + 1}: ingesting ${commands.length} events, then the baseline… `)
        const started = performance.now()
        await run(commands)
        const ingested = (performance.now() - started) / 1000
        const raw = await rawUpsert(db, batches)
        ingestSeconds += ingested
        baselineSeconds += raw
        roundRatios.push((raw / ingested).toFixed(2))
      }
      console.log('done')
      const rowCount = measuredRows.reduce(
        (sum, b) => sum + b.persons.length + b.distinctIds.length + b.deleted.length,
        0,
      )
      rows.push([
        target.name,
        Math.round(mix.length / ingestSeconds),
        Math.round(rowCount / baselineSeconds),
        Math.round(mix.length / baselineSeconds),
        (baselineSeconds / ingestSeconds).toFixed(2),
        roundRatios.join(' '),
      ])
    } finally {
      await log.close()
      await db.destroy()
      await drop()
      rmSync(logDir, { recursive: true, force: true })
    }
  }
  printTable(
    [
      'database',
      'ingest events/s (persons on)',
      'raw upsert of the same rows: rows/s',
      'same, as events/s',
      'ratio (raw time / ingest time)',
      'ratio per round',
    ],
    rows,
  )
}

/** The mix of events ingest is measured with (also the apps benchmark's). */
export function workload(token: string, count: number): CaptureCommand[] {
  const commands: CaptureCommand[] = []
  for (let i = 0; i < count; i++) {
    const pick = i % 20
    if (pick < 16)
      commands.push(
        command(token, '$pageview', `user-${(i * 7919) % existingUsers}`, { $set: { last_seen: i } }),
      )
    else if (pick < 19)
      commands.push(
        command(token, 'signed_up', `new-${i}`, { $set: { plan: 'free' }, $set_once: { first: i } }),
      )
    else if (i % 40 === 19)
      commands.push(
        command(token, '$identify', `user-${i % existingUsers}`, { $anon_distinct_id: `anon-${i}` }),
      )
    else
      commands.push(
        command(token, '$create_alias', `user-${(i * 31) % existingUsers}`, { alias: `alias-${i}` }),
      )
  }
  return commands
}

let sequence = 0
export function command(
  token: string,
  event: string,
  distinctId: string,
  properties: Record<string, unknown>,
): CaptureCommand {
  const uuid = `0190f0a0-0000-7000-8000-${(++sequence).toString(16).padStart(12, '0')}`
  const now = '2026-11-25T00:00:00.000Z'
  return {
    uuid,
    distinct_id: distinctId,
    ip: '127.0.0.1',
    data: JSON.stringify({ event, distinct_id: distinctId, properties, uuid }),
    now,
    token,
    event,
    timestamp: now,
  }
}

/** The rows ingest writes for each batch: the last snapshot of every person it touched, every
 * distinct id it (re)assigned, every person a merge removed — decided by the same pure domain. */
interface BatchRows {
  persons: PersonSnapshot[]
  distinctIds: { teamId: number; distinctId: string; personUuid: string; version: number }[]
  deleted: string[]
}

function rowsPerBatch(setup: CaptureCommand[], measured: CaptureCommand[], teamId: number): BatchRows[] {
  const state = emptyIdentityState()
  const decide = (commands: CaptureCommand[]) => {
    const events = commands.map((command) => {
      const parsed = parseCommand(command)
      if (!parsed.ok) throw new Error(parsed.reason)
      return { team: { teamId, anonymizeIps: false }, event: parsed.event }
    })
    return decideBatch(state, events).facts
  }
  decide(setup)
  const batches: BatchRows[] = []
  for (let i = 0; i < measured.length; i += batchSize) {
    const persons = new Map<string, PersonSnapshot | null>()
    const distinctIds = new Map<string, BatchRows['distinctIds'][number]>()
    for (const fact of decide(measured.slice(i, i + batchSize))) {
      if (fact.type === 'person_created' || fact.type === 'person_updated') {
        const { type: _type, ...snapshot } = fact
        persons.set(fact.uuid, snapshot)
      } else if (fact.type === 'person_deleted') persons.set(fact.uuid, null)
      else if (fact.type === 'distinct_id_assigned') {
        const { type: _type, ...row } = fact
        distinctIds.set(fact.distinctId, row)
      }
    }
    batches.push({
      persons: [...persons.values()].filter((p): p is PersonSnapshot => p !== null),
      distinctIds: [...distinctIds.values()],
      deleted: [...persons].filter(([, p]) => p === null).map(([uuid]) => uuid),
    })
  }
  return batches
}

/**
 * The baseline: the rows ingest wrote, upserted batch by batch (one transaction each) with nothing
 * else — no parsing, deciding, loading, locking, outbox or log — into tables shaped as ingest's own
 * (keys, indexes, the deferred foreign key) and, like them, logged: a temporary table would skip
 * the write-ahead log and measure a cheaper storage than ingest uses. The setup's rows go in first,
 * untimed, so updates meet existing rows as they do in ingest.
 */
async function prepareBaseline(db: Db, setup: BatchRows[]): Promise<void> {
  await sql`CREATE TABLE bench_person (LIKE persons INCLUDING ALL)`.execute(db)
  await sql`CREATE TABLE bench_distinct_id (LIKE person_distinct_ids INCLUDING ALL,
    FOREIGN KEY (person_uuid) REFERENCES bench_person (uuid) DEFERRABLE INITIALLY DEFERRED)`.execute(db)
  await rawUpsert(db, setup)
}

/** Seconds to upsert the batches' rows into the baseline tables. */
async function rawUpsert(db: Db, batches: BatchRows[]): Promise<number> {
  const started = performance.now()
  for (const rows of batches) {
    await db.transaction().execute(async (tx) => {
      // the fastest way we know to send many rows: one JSON document per statement, as ingest does
      const persons = rows.persons.map((p) => [
        p.uuid,
        p.teamId,
        p.createdAt,
        p.properties,
        p.isIdentified,
        p.version,
      ])
      await sql`INSERT INTO bench_person (uuid, team_id, created_at, properties, is_identified, version)
        SELECT (r->>0)::uuid, (r->>1)::integer, (r->>2)::timestamptz, r->3, (r->>4)::boolean, (r->>5)::bigint
        FROM jsonb_array_elements(${JSON.stringify(persons)}::jsonb) AS r
        ON CONFLICT (uuid) DO UPDATE SET properties = excluded.properties, is_identified = excluded.is_identified,
        version = excluded.version`.execute(tx)
      const ids = rows.distinctIds.map((d) => [d.teamId, d.distinctId, d.personUuid, d.version])
      await sql`INSERT INTO bench_distinct_id (team_id, distinct_id, person_uuid, version)
        SELECT (r->>0)::integer, r->>1, (r->>2)::uuid, (r->>3)::bigint
        FROM jsonb_array_elements(${JSON.stringify(ids)}::jsonb) AS r
        ON CONFLICT (team_id, distinct_id) DO UPDATE SET person_uuid = excluded.person_uuid, version = excluded.version`.execute(
        tx,
      )
      if (rows.deleted.length > 0)
        await sql`DELETE FROM bench_person WHERE uuid = ANY(${rows.deleted}::uuid[])`.execute(tx)
    })
  }
  return (performance.now() - started) / 1000
}
