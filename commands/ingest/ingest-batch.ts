import { TypeCompiler } from '@sinclair/typebox/compiler'
import { evolveIdentity } from '../../domain/identity/evolve.ts'
import { decideEvent } from '../../domain/ingest/decide-event.ts'
import { type PipelineEvent, parseCommand } from '../../domain/ingest/pipeline-event.ts'
import { referencedIdentities } from '../../domain/ingest/referenced.ts'
import {
  IdentityDataRefusedError,
  type IdentityReferences,
  type IdentityStore,
  type IdentityTransaction,
  type OutboxRecord,
} from '../../ports/identity-store.ts'
import type { Log, LogBatch, LogMessage } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'
import { CaptureCommand } from '../../schema/command.ts'
import { deadLetterRecord } from '../../schema/dead-letter.ts'
import type { Fact } from '../../schema/facts.ts'
import type { TokenCache } from '../projects/token-cache.ts'
import { createFactPublisher, type FactPublisher } from './fact-publisher.ts'
import { factRecords } from './fact-records.ts'
import { identityStateFrom } from './identity-state.ts'

export interface IngestDeps {
  identities: IdentityStore
  tokens: TokenCache
  log: Log
  groupId: string
  logger: Logger
  now: () => Date
  metrics?: IngestMetrics
}

export interface IngestMetrics {
  observeBatch(result: BatchResult, seconds: number): void
}

export interface BatchResult {
  ingested: number
  dropped: number
  deadLettered: number
  alreadyApplied: number
}

interface Accepted {
  message: LogMessage
  event: PipelineEvent
  teamId: number
  anonymizeIps: boolean
}

export interface IngestBatchHandler {
  /** Applies one batch of one command-log partition; its facts are published in the background. */
  apply(batch: LogBatch): Promise<BatchResult>
  /** Waits until the facts of every applied batch are on the fact topics. */
  drain(): Promise<void>
}

/**
 * Ingests one batch of one command-log partition: parse → resolve the project → (one Postgres
 * transaction: skip what was already applied, lock and load the identities the batch touches,
 * decide every event in order, write the facts, the consumed offset and the outbox) → publish the
 * outbox to the fact topics while the next batch is applied. Anything that cannot be processed
 * goes to the dead letter queue.
 */
export function createIngestBatchHandler(deps: IngestDeps): IngestBatchHandler {
  const publisher = createFactPublisher(deps)
  const ingest = ingestBatch(deps, publisher)
  // A batch the database refuses is split until the event it refuses stands alone; that one goes
  // to the dead letter queue, so one bad event never stalls its partition. The halves run in
  // order, and each records its own range, so a replay meets them the same way.
  const isolating = async (batch: LogBatch): Promise<BatchResult> => {
    try {
      return await ingest(batch)
    } catch (error) {
      if (!(error instanceof IdentityDataRefusedError)) throw error
      if (batch.messages.length === 1) return deadLetterRefused(deps, publisher, batch, error)
      const half = Math.ceil(batch.messages.length / 2)
      const first = await isolating({ ...batch, messages: batch.messages.slice(0, half) })
      return addBatchResults(first, await isolating({ ...batch, messages: batch.messages.slice(half) }))
    }
  }
  return { apply: isolating, drain: () => publisher.drain() }
}

export function addBatchResults(a: BatchResult, b: BatchResult): BatchResult {
  return {
    ingested: a.ingested + b.ingested,
    dropped: a.dropped + b.dropped,
    deadLettered: a.deadLettered + b.deadLettered,
    alreadyApplied: a.alreadyApplied + b.alreadyApplied,
  }
}

/** Records the lone event the database refused as consumed, with its dead letter, in one transaction. */
async function deadLetterRefused(
  deps: IngestDeps,
  publisher: FactPublisher,
  batch: LogBatch,
  error: IdentityDataRefusedError,
): Promise<BatchResult> {
  const message = batch.messages[0]!
  deps.logger.warn(
    { err: error, topic: batch.topic, partition: batch.partition, offset: message.offset },
    'the database refused an event; it goes to the dead letter queue',
  )
  const outcome = await publishedTransaction(deps, publisher, async (tx) => {
    const consumed = (await tx.consumedOffset(deps.groupId, batch.topic, batch.partition)) ?? 0
    if (message.offset < consumed) return null
    await tx.commitOffset(deps.groupId, batch.topic, batch.partition, message.offset, message.offset + 1)
    const records = [deadLetterRecord(message, 'apply', error.message, deps.now())]
    return { outboxId: await tx.addToOutbox(records), records }
  })
  if (outcome === null) return { ingested: 0, dropped: 0, deadLettered: 0, alreadyApplied: 1 }
  await publisher.publish(outcome.outboxId, outcome.records)
  const result = { ingested: 0, dropped: 0, deadLettered: 1, alreadyApplied: 0 }
  deps.metrics?.observeBatch(result, 0)
  return result
}

/**
 * Runs the work in one identity transaction that also deletes the outbox entries published since
 * the last one, after a failed publish has been made good.
 */
async function publishedTransaction<T>(
  deps: IngestDeps,
  publisher: FactPublisher,
  work: (tx: IdentityTransaction) => Promise<T>,
): Promise<T> {
  await publisher.recover()
  const published = publisher.takePublished()
  try {
    return await deps.identities.transaction(async (tx) => {
      await tx.deleteOutbox(published)
      return work(tx)
    })
  } catch (error) {
    publisher.restore(published)
    throw error
  }
}

function ingestBatch(deps: IngestDeps, publisher: FactPublisher): (batch: LogBatch) => Promise<BatchResult> {
  return async (batch) => {
    const started = performance.now()
    const deadLetters: OutboxRecord[] = []
    const accepted: Accepted[] = []
    for (const message of batch.messages) {
      const parsed = parseMessage(message)
      if (!parsed.ok) {
        deadLetters.push(deadLetterRecord(message, 'parse', parsed.reason, deps.now()))
        continue
      }
      const project = await deps.tokens.resolve(parsed.event.token)
      if (project === null) {
        deadLetters.push(
          deadLetterRecord(
            message,
            'resolve_project',
            `no project has the token ${parsed.event.token}`,
            deps.now(),
          ),
        )
        continue
      }
      accepted.push({ message, event: parsed.event, teamId: project.id, anonymizeIps: project.anonymizeIps })
    }

    const lastOffset = batch.messages.at(-1)?.offset
    if (lastOffset === undefined) return { ingested: 0, dropped: 0, deadLettered: 0, alreadyApplied: 0 }

    const outcome = await publishedTransaction(deps, publisher, async (tx) => {
      const consumed = (await tx.consumedOffset(deps.groupId, batch.topic, batch.partition)) ?? 0
      const fresh = accepted.filter((a) => a.message.offset >= consumed)
      const freshDeadLetters = deadLetters.filter((record) => dlqOffset(record) >= consumed)
      const state = identityStateFrom(await tx.load(referencesOf(fresh)))
      await yieldToEventLoop()
      const facts: Fact[] = []
      let ingested = 0
      for (const item of fresh) {
        const decision = decideEvent(
          state,
          { teamId: item.teamId, anonymizeIps: item.anonymizeIps },
          item.event,
        )
        for (const fact of decision.facts) evolveIdentity(state, fact)
        facts.push(...decision.facts)
        if (decision.outcome === 'ingested') ingested++
      }
      // A database server writes the projection while the fact records are built and encoded here;
      // the statements queue on the transaction's connection.
      const applied = tx.applyFacts(facts)
      applied.catch(() => {}) // awaited below: until then a rejection must not count as unhandled
      await yieldToEventLoop()
      const records = [...factRecords(facts), ...freshDeadLetters]
      if (lastOffset + 1 > consumed) {
        const firstOffset = Math.max(consumed, batch.messages[0]!.offset)
        await tx.commitOffset(deps.groupId, batch.topic, batch.partition, firstOffset, lastOffset + 1)
      }
      const outboxAdded = records.length > 0 ? tx.addToOutbox(records) : null
      outboxAdded?.catch(() => {})
      await applied
      const outboxId = await outboxAdded
      return {
        outboxId,
        records,
        result: {
          ingested,
          dropped: fresh.length - ingested,
          deadLettered: freshDeadLetters.length,
          alreadyApplied: batch.messages.length - fresh.length - freshDeadLetters.length,
        },
      }
    })
    if (outcome.outboxId !== null) await publisher.publish(outcome.outboxId, outcome.records)
    deps.metrics?.observeBatch(outcome.result, (performance.now() - started) / 1000)
    return outcome.result
  }
}

/**
 * An in-process database (PGlite) answers through microtasks only, so a whole transaction can run
 * without the event loop turning once; the previous batch's facts, on their way to the log, would
 * wait for it. A turn between the transaction's steps lets them go out meanwhile.
 */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

const captureCommandCheck = TypeCompiler.Compile(CaptureCommand)

function parseMessage(
  message: LogMessage,
): { ok: true; event: PipelineEvent } | { ok: false; reason: string } {
  let json: unknown
  try {
    json = JSON.parse(message.value)
  } catch (error) {
    return { ok: false, reason: `command is not JSON: ${(error as Error).message}` }
  }
  if (!captureCommandCheck.Check(json)) {
    const first = captureCommandCheck.Errors(json).First()
    return {
      ok: false,
      reason: `command does not match the capture message schema: ${first?.path} ${first?.message}`,
    }
  }
  return parseCommand(json)
}

function referencesOf(items: readonly Accepted[]): IdentityReferences {
  const references: IdentityReferences = { distinctIds: [], groupTypeTeams: [], groups: [] }
  const teams = new Set<number>()
  for (const { event, teamId } of items) {
    const referenced = referencedIdentities(event)
    for (const distinctId of referenced.distinctIds) references.distinctIds.push({ teamId, distinctId })
    for (const group of referenced.groups) references.groups.push({ teamId, ...group })
    teams.add(teamId)
  }
  references.groupTypeTeams = [...teams]
  return references
}

function dlqOffset(record: OutboxRecord): number {
  return (JSON.parse(record.value) as { offset: number }).offset
}
