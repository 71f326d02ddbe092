import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { getQuickJS } from 'quickjs-emscripten'
import { createEmbeddedLog } from '../adapters/log/embedded/embedded-log.ts'
import { openPostgres } from '../adapters/postgres/connect.ts'
import { openApps } from '../adapters/runtime/apps.ts'
import { defaults } from '../adapters/runtime/config.ts'
import { createIngestBatchHandler } from '../commands/ingest/ingest-batch.ts'
import { createTokenCache } from '../commands/projects/token-cache.ts'
import { appEventJson, sandboxInputsOf } from '../domain/apps/app-event.ts'
import { parseCommand } from '../domain/ingest/pipeline-event.ts'
import type { AppSandbox } from '../ports/apps.ts'
import type { LogMessage } from '../ports/log.ts'
import type { Logger } from '../ports/logger.ts'
import { postgresIdentityStore } from '../projections/postgres/identity-store.ts'
import { postgresProjectStore } from '../projections/postgres/project-store.ts'
import type { CaptureCommand } from '../schema/command.ts'
import { Topics } from '../schema/topics.ts'
import { command, workload } from './ingest.ts'
import { printTable } from './report.ts'

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} }
const batchSize = 1000
const users = 5000
const measuredEvents = Number(process.env.BENCH_EVENTS ?? 20_000)
const rounds = 4
const warmUpEvents = 5 * batchSize

const trivialApp =
  'export function processEvent(event, meta) { event.properties.source = meta.config.source; return event }'
const copyTenApp = `export function processEvent(event) {
  for (const key of ['$current_url', '$browser', '$os', 'plan', 'utm_source', 'utm_medium', 'utm_campaign', 'referrer', 'locale', 'screen']) {
    event.properties['copy_' + key] = event.properties[key] ?? null
  }
  return event
}`
const variants = [
  { name: 'no app', source: null },
  { name: 'one trivial app (adds a property from its config)', source: trivialApp },
  { name: 'one app copying ten properties', source: copyTenApp },
] as const

/**
 * `npm run bench -- apps`: ingest (persons on, the ingest benchmark's mix) of projects with no app,
 * one trivial app, and one that copies ten properties — each its own project in one database, the
 * three taking turns in every round — and the time one event takes in the sandbox alone. Then what
 * "no state survives from one event to the next" costs done three ways, to show why sluice freezes
 * one context per app version instead of making one per event.
 */
export async function appsBench(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-bench-apps-'))
  const logDir = mkdtempSync(join(tmpdir(), 'sluice-bench-apps-log-'))
  const db = await openPostgres({ kind: 'pglite', dataDir })
  const log = createEmbeddedLog({ path: logDir })
  // as `sluice start` runs apps, with the default limits
  const apps = openApps(defaults.apps, db)
  const { sandbox, store } = apps
  try {
    await log.ensureTopics(
      Object.values(Topics).map((name) => ({ name, partitions: 1, retention: 'forever' as const })),
    )
    const projects = postgresProjectStore(db)
    const handler = createIngestBatchHandler({
      identities: postgresIdentityStore(db, { exclusive: true }),
      tokens: createTokenCache(projects),
      log,
      groupId: 'bench',
      logger: quiet,
      now: () => new Date(),
      apps: apps.ingestStep({ logger: quiet }),
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

    const perRound = Math.ceil(measuredEvents / rounds)
    const prepared: ((typeof variants)[number] & {
      token: string
      events: CaptureCommand[]
      seconds: number
      ratios: number[]
    })[] = []
    for (const variant of variants) {
      const token = `phc_bench_apps_${prepared.length}_${Date.now()}`
      const { project } = await projects.createProject({
        name: variant.name,
        apiToken: token,
        personalApiKey: `phx_${token}`,
      })
      if (variant.source)
        await store.create(project.id, {
          name: variant.name,
          source: variant.source,
          config: { source: 'bench' },
          enabled: true,
        })
      const events = workload(token, warmUpEvents + perRound * rounds)
      prepared.push({ ...variant, token, events, seconds: 0, ratios: [] })
    }
    process.stdout.write(`creating ${users} users per project, then ${warmUpEvents} events each to warm up… `)
    for (const variant of prepared) {
      const signups = Array.from({ length: users }, (_, i) =>
        command(variant.token, 'signed_up', `user-${i}`, { $set: { plan: 'free' } }),
      )
      await run([...signups, ...variant.events.slice(0, warmUpEvents)])
    }
    for (let round = 0; round < rounds; round++) {
      process.stdout.write(`round ${round + 1}… `)
      // a different variant goes first each round, so a busy spell on a shared machine hits all alike
      const order = prepared.map((_, i) => prepared[(i + round) % prepared.length]!)
      const times = new Map<string, number>()
      for (const variant of order) {
        const from = warmUpEvents + round * perRound
        const started = performance.now()
        await run(variant.events.slice(from, from + perRound))
        const seconds = (performance.now() - started) / 1000
        variant.seconds += seconds
        times.set(variant.name, seconds)
      }
      for (const variant of prepared)
        variant.ratios.push(times.get(prepared[0]!.name)! / times.get(variant.name)!)
    }
    console.log('done')
    const baseline = prepared[0]!
    printTable(
      ['project', 'ingest events/s (persons on)', 'ratio to no app', 'ratio per round'],
      prepared.map((variant) => [
        variant.name,
        Math.round((perRound * rounds) / variant.seconds),
        (baseline.seconds / variant.seconds).toFixed(2),
        variant.ratios.map((r) => r.toFixed(2)).join(' '),
      ]),
    )

    console.log('\nOne event in the sandbox alone (the app gets the event as JSON and hands it back):')
    const rows = []
    for (const variant of prepared.slice(1)) {
      const app = await sandbox.compile({ source: variant.source!, config: { source: 'bench' }, teamId: 1 })
      const inputs = variant.events.slice(0, 5000).map((c) => {
        const parsed = parseCommand(c)
        if (!parsed.ok) throw new Error(parsed.reason)
        return { eventJson: appEventJson(parsed.event, 1), ...sandboxInputsOf(parsed.event) }
      })
      for (const input of inputs) await app.run(input)
      const started = performance.now()
      for (const input of inputs) await app.run(input)
      rows.push([variant.name, ((performance.now() - started) * 1000) / inputs.length])
      app.dispose()
    }
    printTable(
      ['app', 'µs per event'],
      rows.map(([name, micros]) => [name as string, (micros as number).toFixed(1)]),
    )
    await noStateStrategies(sandbox)
  } finally {
    apps.close()
    await log.close()
    await db.destroy()
    rmSync(dataDir, { recursive: true, force: true })
    rmSync(logDir, { recursive: true, force: true })
  }
}

/**
 * Three ways to keep no state from one event to the next, on the trivial app: a new QuickJS runtime
 * and context per event, a new context per event in one runtime (both evaluating the source again),
 * and sluice's — one context per app version, frozen after set-up, the app's top-level code run again
 * per event (adapters/sandbox/quickjs-sandbox.ts).
 */
async function noStateStrategies(sandbox: AppSandbox): Promise<void> {
  const events = 2000
  const eventJson = JSON.stringify({
    uuid: '0190f0a0-0000-7000-8000-000000000001',
    event: '$pageview',
    distinct_id: 'user-1',
    properties: { $current_url: 'https://example.com/', $browser: 'Chrome', plan: 'free' },
    timestamp: '2026-11-25T00:00:00.000Z',
    now: '2026-11-25T00:00:00.000Z',
    team_id: 1,
  })
  const quickjs = await getQuickJS()
  const script = `(function () { 'use strict'; ${trivialApp.replace('export ', '')}
    return JSON.stringify(processEvent(JSON.parse(${JSON.stringify(eventJson)}), { config: { source: 'bench' } })) })()`
  const micros = (started: number) => (((performance.now() - started) * 1000) / events).toFixed(1)

  let started = performance.now()
  for (let i = 0; i < events; i++) {
    const runtime = quickjs.newRuntime()
    const context = runtime.newContext()
    context.unwrapResult(context.evalCode(script)).dispose()
    context.dispose()
    runtime.dispose()
  }
  const freshRuntime = micros(started)

  const runtime = quickjs.newRuntime()
  started = performance.now()
  for (let i = 0; i < events; i++) {
    const context = runtime.newContext()
    context.unwrapResult(context.evalCode(script)).dispose()
    context.dispose()
  }
  const freshContext = micros(started)
  runtime.dispose()

  const app = await sandbox.compile({ source: trivialApp, config: { source: 'bench' }, teamId: 1 })
  const input = { eventJson, nowMs: 0, randomSeed: [1, 2, 3, 4] as const }
  for (let i = 0; i < events; i++) await app.run(input)
  started = performance.now()
  for (let i = 0; i < events; i++) await app.run(input)
  const frozen = micros(started)
  app.dispose()

  console.log('\nNo state from one event to the next, three ways (trivial app):')
  printTable(
    ['how', 'µs per event'],
    [
      ['a new runtime and context per event', freshRuntime],
      ['a new context per event, one runtime', freshContext],
      ['sluice: one frozen context per app version, top-level code run again per event', frozen],
    ],
  )
}
