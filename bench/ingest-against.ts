import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Logger } from '../ports/logger.ts'
import type { CaptureCommand } from '../schema/command.ts'
import { createTestDatabase, postgresServerReachable } from '../tests/support/postgres-server.ts'
import { command, workload } from './ingest.ts'
import { printTable } from './report.ts'

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} }
const batchSize = 1000
const existingUsers = 5000
const warmUpEvents = 5 * batchSize
const measuredEvents = Number(process.env.BENCH_EVENTS ?? 30_000)

/** What this benchmark uses of a checkout: the names every release since the first has exported. */
interface Checkout {
  createEmbeddedLog(options: { path: string }): {
    ensureTopics(topics: { name: string; partitions: number; retention: 'forever' }[]): Promise<void>
    close(): Promise<void>
  }
  openPostgres(config: { kind: 'pglite'; dataDir: string } | { kind: 'pg'; url: string }): Promise<{
    destroy(): Promise<void>
  }>
  createIngestBatchHandler(deps: Record<string, unknown>): {
    apply(batch: { topic: string; partition: number; messages: unknown[] }): Promise<unknown>
    drain(): Promise<void>
  }
  createTokenCache(store: unknown): unknown
  postgresIdentityStore(db: unknown, options: { exclusive: boolean }): unknown
  postgresProjectStore(db: unknown): {
    createProject(project: { name: string; apiToken: string; personalApiKey: string }): Promise<unknown>
  }
  Topics: { commands: string } & Record<string, string>
  /** Releases with apps run the apps step in ingest. */
  openApps?(limits: unknown, db: unknown): { ingestStep(deps: { logger: Logger }): unknown }
  defaults?: { apps: unknown }
}

async function loadCheckout(root: string): Promise<Checkout> {
  const from = (path: string) => import(join(root, path)) as Promise<Partial<Checkout>>
  const parts = await Promise.all([
    from('adapters/log/embedded/embedded-log.ts'),
    from('adapters/postgres/connect.ts'),
    from('commands/ingest/ingest-batch.ts'),
    from('commands/projects/token-cache.ts'),
    from('projections/postgres/identity-store.ts'),
    from('projections/postgres/project-store.ts'),
    from('schema/topics.ts'),
    ...(existsSync(join(root, 'adapters/runtime/apps.ts'))
      ? [from('adapters/runtime/apps.ts'), from('adapters/runtime/config.ts')]
      : []),
  ])
  return Object.assign({}, ...parts) as Checkout
}

/**
 * Ingest of this checkout against another (BENCH_AGAINST=<its directory>, such as a `git worktree`
 * of the release before), in one process, batch by batch in turns on databases of their own — so
 * a busy spell of a shared machine weighs on both alike, where runs minutes apart differ by a
 * fifth. The same mix as the ingest benchmark, warmed up alike; each batch's facts are drained
 * before the other side's batch starts.
 */
export async function ingestAgainstBench(): Promise<void> {
  const against = process.env.BENCH_AGAINST
  if (!against) {
    console.error(
      'set BENCH_AGAINST to the directory of the checkout to compare with, e.g.\n' +
        '  git worktree add /tmp/before <commit> && ln -s "$PWD/node_modules" /tmp/before/\n' +
        '  BENCH_AGAINST=/tmp/before npm run bench -- ingest-against',
    )
    process.exit(2)
  }
  const sides = [
    { name: 'this checkout', code: await loadCheckout(resolve(import.meta.dirname, '..')) },
    { name: against, code: await loadCheckout(resolve(against)) },
  ]
  const databases: ('pglite' | 'pg')[] = ['pglite']
  if ((await postgresServerReachable()) === null) databases.push('pg')
  else console.log('PostgreSQL server not reachable: measuring PGlite only')

  const rows: (string | number)[][] = []
  for (const database of databases) {
    const wall = [0, 0]
    const cpu = [0, 0]
    const batchRatios: number[] = []
    // The side set up second ran up to a tenth faster in trials, either way round: half the events
    // are measured with each side set up first.
    for (const setUpFirst of [0, 1]) {
      const cleanups: (() => Promise<void>)[] = []
      try {
        const runners: { ingest(from: number, to: number): Promise<void> }[] = []
        for (const i of setUpFirst === 0 ? [0, 1] : [1, 0]) {
          process.stdout.write(`${database}, ${sides[i]!.name}: creating users and warming up… `)
          runners[i] = await openSide(sides[i]!.code, database, i, cleanups)
          console.log('done')
        }
        const half = measuredEvents / 2
        for (let start = setUpFirst * half; start < (setUpFirst + 1) * half; start += batchSize) {
          const seconds = [0, 0]
          // who goes first alternates, so neither always meets the other's leftovers
          const order = (start / batchSize) % 2 === 0 ? [0, 1] : [1, 0]
          for (const i of order) {
            const cpuBefore = process.cpuUsage()
            const started = performance.now()
            await runners[i]!.ingest(start, start + batchSize)
            seconds[i] = (performance.now() - started) / 1000
            const used = process.cpuUsage(cpuBefore)
            wall[i]! += seconds[i]!
            cpu[i]! += (used.user + used.system) / 1e6
          }
          batchRatios.push(seconds[1]! / seconds[0]!)
          if ((start / batchSize) % 5 === 4) process.stdout.write(`${start + batchSize} events… `)
        }
        console.log('done')
      } finally {
        for (const cleanup of cleanups.reverse()) await cleanup()
      }
    }
    batchRatios.sort((a, b) => a - b)
    rows.push([
      database === 'pg' ? 'PostgreSQL' : 'PGlite',
      Math.round(measuredEvents / wall[0]!),
      Math.round(measuredEvents / wall[1]!),
      (wall[1]! / wall[0]!).toFixed(2),
      (cpu[1]! / cpu[0]!).toFixed(2),
      batchRatios[Math.floor(batchRatios.length / 2)]!.toFixed(2),
    ])
  }
  printTable(
    [
      'database',
      'this checkout: events/s',
      `${against}: events/s`,
      'speed-up: its time / ours',
      'its CPU / ours',
      'median batch: its time / ours',
    ],
    rows,
  )
}

async function openSide(
  code: Checkout,
  database: 'pglite' | 'pg',
  index: number,
  cleanups: (() => Promise<void>)[],
) {
  let config: { kind: 'pglite'; dataDir: string } | { kind: 'pg'; url: string }
  if (database === 'pg') {
    const created = await createTestDatabase(`sluice_bench_against_${index}_test`)
    cleanups.push(created.drop)
    config = { kind: 'pg', url: created.url }
  } else {
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-bench-against-'))
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }))
    config = { kind: 'pglite', dataDir }
  }
  const db = await code.openPostgres(config)
  cleanups.push(() => db.destroy())
  const logDir = mkdtempSync(join(tmpdir(), 'sluice-bench-against-log-'))
  const log = code.createEmbeddedLog({ path: logDir })
  cleanups.push(async () => {
    await log.close()
    rmSync(logDir, { recursive: true, force: true })
  })
  await log.ensureTopics(
    Object.values(code.Topics).map((name) => ({ name, partitions: 1, retention: 'forever' as const })),
  )
  const token = `phc_bench_against_${index}`
  await code
    .postgresProjectStore(db)
    .createProject({ name: 'bench', apiToken: token, personalApiKey: `phx_${token}` })
  const apps =
    code.openApps && code.defaults
      ? { apps: code.openApps(code.defaults.apps, db).ingestStep({ logger: quiet }) }
      : {}
  const handler = code.createIngestBatchHandler({
    identities: code.postgresIdentityStore(db, { exclusive: database === 'pglite' }),
    tokens: code.createTokenCache(code.postgresProjectStore(db)),
    log,
    groupId: 'bench',
    logger: quiet,
    now: () => new Date(),
    ...apps,
  })
  let offset = 0
  const apply = async (commands: CaptureCommand[]) => {
    for (let i = 0; i < commands.length; i += batchSize) {
      const messages = commands.slice(i, i + batchSize).map((c) => ({
        topic: code.Topics.commands,
        partition: 0,
        offset: offset++,
        timestamp: 0,
        key: `${c.token}:${c.distinct_id}`,
        value: JSON.stringify(c),
      }))
      await handler.apply({ topic: code.Topics.commands, partition: 0, messages })
      await handler.drain()
    }
  }
  const users = Array.from({ length: existingUsers }, (_, i) =>
    command(token, 'signed_up', `user-${i}`, { $set: { plan: 'free' } }),
  )
  const events = workload(token, warmUpEvents + measuredEvents)
  await apply([...users, ...events.slice(0, warmUpEvents)])
  const measured = events.slice(warmUpEvents)
  return { ingest: (from: number, to: number) => apply(measured.slice(from, to)) }
}
