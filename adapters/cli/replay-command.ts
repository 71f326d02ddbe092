import { SingleBar } from 'cli-progress'
import { recordedAppVersions } from '../../commands/apps/app-versions.ts'
import {
  addBatchResults,
  type BatchResult,
  createIngestBatchHandler,
} from '../../commands/ingest/ingest-batch.ts'
import { createTokenCache } from '../../commands/projects/token-cache.ts'
import type { ClickHouse } from '../../ports/clickhouse.ts'
import type { AppliedBatch } from '../../ports/identity-store.ts'
import type { Log } from '../../ports/log.ts'
import { projectorGroupId, startClickHouseProjector } from '../../projections/clickhouse/projector.ts'
import { resetClickHouseProjection } from '../../projections/clickhouse/reset.ts'
import { postgresIdentityStore } from '../../projections/postgres/identity-store.ts'
import { postgresProjectStore } from '../../projections/postgres/project-store.ts'
import { factTopics, Topics } from '../../schema/topics.ts'
import { openApps } from '../runtime/apps.ts'
import type { SluiceConfig } from '../runtime/config.ts'
import { createLogger } from '../runtime/logger.ts'
import { withBackends } from '../runtime/open-backends.ts'
import { ingestGroupId } from '../runtime/start.ts'

export interface ReplayOptions {
  fromOffset: number
  projections: Set<'postgres' | 'clickhouse'>
}

/**
 * `sluice replay`: empties the projections and rebuilds them from the retained command log with
 * the same ingest code — the domain is deterministic, so persons, ids, versions and merges come
 * out as before. ClickHouse is rebuilt from the facts the replay publishes (or, alone, from the
 * retained fact topics).
 */
export async function runReplay(config: SluiceConfig, options: ReplayOptions): Promise<void> {
  const started = performance.now()
  const logger = createLogger(config)
  const needs = { log: true as const, clickhouse: options.projections.has('clickhouse') }
  await withBackends(
    config,
    needs,
    { command: 'sluice replay', logger },
    async ({ db, log, clickhouse, postgres }) => {
      let totals: BatchResult = { ingested: 0, dropped: 0, deadLettered: 0, alreadyApplied: 0 }
      if (clickhouse) {
        await resetClickHouseProjection(clickhouse)
        // With Postgres replayed too, ClickHouse is rebuilt from the facts this replay publishes;
        // alone, from every fact the topics still hold.
        for (const topic of factTopics) {
          const position = options.projections.has('postgres')
            ? await log.endOffsets(topic)
            : zeroes(await log.endOffsets(topic))
          await log.commitOffsets(projectorGroupId, topic, position)
        }
      }
      const identities = postgresIdentityStore(db, { exclusive: postgres.kind === 'pglite' })
      // Read before the reset empties it: the order the batches were first applied in.
      const applied = options.projections.has('postgres')
        ? await identities.appliedBatches(ingestGroupId)
        : []
      if (options.projections.has('postgres')) {
        await identities.reset()
        // the app versions that ran the first time, not those enabled now
        const apps = openApps(config.apps, db)
        const versions = recordedAppVersions({
          store: apps.store,
          applied,
          records: await apps.store.recordedRuns(ingestGroupId),
          current: apps.current,
        })
        const handler = createIngestBatchHandler({
          identities,
          tokens: createTokenCache(postgresProjectStore(db)),
          log,
          groupId: ingestGroupId,
          logger,
          now: () => new Date(),
          apps: apps.ingestStep({ logger, versions }),
        })
        const ranges = replayRanges(applied, await log.endOffsets(Topics.commands), options.fromOffset)
        const bar = progressBar(
          'commands',
          ranges.reduce((sum, r) => sum + r.nextOffset - r.firstOffset, 0),
        )
        for (const { partition, firstOffset, nextOffset } of ranges) {
          for (let offset = firstOffset; offset < nextOffset; ) {
            const messages = await log.read(
              Topics.commands,
              partition,
              offset,
              Math.min(1000, nextOffset - offset),
            )
            if (messages.length === 0) break
            const result = await handler.apply({ topic: Topics.commands, partition, messages })
            totals = addBatchResults(totals, result)
            offset = messages.at(-1)!.offset + 1
            bar.increment(messages.length)
          }
        }
        await handler.drain()
        apps.close()
        bar.stop()
      }
      const projected = clickhouse ? await projectUntilCaughtUp(log, clickhouse) : 0
      const seconds = ((performance.now() - started) / 1000).toFixed(1)
      console.log(
        `Replay done in ${seconds} s: ${totals.ingested} events ingested, ${totals.dropped} dropped, ` +
          `${totals.deadLettered} dead-lettered; ${projected} facts projected into ClickHouse.`,
      )
    },
  )
}

export interface ReplayRange {
  partition: number
  firstOffset: number
  nextOffset: number
}

/**
 * What to re-apply, in order: the batches of the command log in the order they were first applied
 * (partitions were consumed concurrently, and a merge decided on one partition can change what an
 * event on another decides), then whatever no batch covered yet, partition by partition.
 * Everything is clipped to [fromOffset, end of the partition).
 */
export function replayRanges(
  applied: readonly AppliedBatch[],
  ends: ReadonlyMap<number, number>,
  fromOffset: number,
): ReplayRange[] {
  const ranges: ReplayRange[] = []
  const covered = new Map<number, number>()
  for (const batch of applied) {
    if (batch.topic !== Topics.commands) continue
    const end = ends.get(batch.partition) ?? 0
    const firstOffset = Math.max(batch.firstOffset, fromOffset)
    const nextOffset = Math.min(batch.nextOffset, end)
    if (firstOffset < nextOffset) ranges.push({ partition: batch.partition, firstOffset, nextOffset })
    covered.set(batch.partition, Math.max(covered.get(batch.partition) ?? 0, batch.nextOffset))
  }
  for (const [partition, end] of ends) {
    const firstOffset = Math.max(covered.get(partition) ?? 0, fromOffset)
    if (firstOffset < end) ranges.push({ partition, firstOffset, nextOffset: end })
  }
  return ranges
}

async function projectUntilCaughtUp(log: Log, clickhouse: ClickHouse): Promise<number> {
  const ends = new Map(
    await Promise.all(factTopics.map(async (topic) => [topic, await log.endOffsets(topic)] as const)),
  )
  const behind = async () => {
    let remaining = 0
    for (const [topic, end] of ends) {
      const committed = await log.committedOffsets(projectorGroupId, topic)
      for (const [partition, offset] of end)
        remaining += Math.max(0, offset - (committed.get(partition) ?? 0))
    }
    return remaining
  }
  const total = await behind()
  const bar = progressBar('facts', total)
  const projector = startClickHouseProjector({ log, clickhouse })
  for (let remaining = total; remaining > 0; remaining = await behind()) {
    bar.update(total - remaining)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  bar.update(total)
  bar.stop()
  await projector.stop()
  return total
}

/** A progress bar on a terminal; elsewhere (CI, pipes) silence until the summary line. */
function progressBar(what: string, total: number) {
  if (!process.stdout.isTTY)
    return { increment: (_n: number) => {}, update: (_n: number) => {}, stop: () => {} }
  const bar = new SingleBar({
    format: `${what.padEnd(8)} [{bar}] {percentage}% | {value}/{total} | {eta_formatted} left`,
    hideCursor: true,
  })
  bar.start(total, 0)
  return bar
}

function zeroes(offsets: Map<number, number>): Map<number, number> {
  return new Map([...offsets.keys()].map((partition) => [partition, 0]))
}
