import { decideBatch } from '../../domain/ingest/decide-batch.ts'
import type { TeamSettings } from '../../domain/ingest/decide-event.ts'
import { referencedIdentities } from '../../domain/ingest/referenced.ts'
import { isDependencyUnavailable } from '../../ports/failures.ts'
import {
  IdentityDataRefusedError,
  type IdentityReferences,
  type IdentityStore,
  IdentityStoreConflictError,
  type OutboxRecord,
} from '../../ports/identity-store.ts'
import type { Log, LogBatch, LogMessage } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'
import { deadLetterRecord, type SetAside } from '../../schema/dead-letter.ts'
import type { Fact } from '../../schema/facts.ts'
import { type BatchApps, noApps } from '../apps/apps-step.ts'
import type { TokenCache } from '../projects/token-cache.ts'
import {
  createParseCommandStep,
  createResolveProjectStep,
  type PreparedEvent,
  type StepResult,
} from './event-steps.ts'
import { createFactPublisher } from './fact-publisher.ts'
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
  /** The projects' apps (commands/apps/apps-step.ts); none run without. */
  apps?: { begin(batch: LogBatch): Promise<BatchApps> }
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

export interface IngestBatchHandler {
  /** Applies one batch of one command-log partition; its facts are published in the background. */
  apply(batch: LogBatch): Promise<BatchResult>
  /** Waits until the facts of every applied batch are on the fact topics. */
  drain(): Promise<void>
}

/** The steps of the batch's transaction, named in dead letters of events that failed there. */
type TransactionStep = 'load' | 'apply'

/** A batch failed in its transaction, for a reason of its own (never a dependency that is away). */
class TransactionStepError extends Error {
  override readonly name = 'TransactionStepError'
  constructor(
    readonly step: TransactionStep,
    readonly failure: unknown,
  ) {
    super(describe(failure), { cause: failure })
  }
}

/**
 * Ingests one batch of one command-log partition, as named steps: per event, parse the command,
 * resolve its project and run its apps; then one Postgres transaction — skip what was already applied, load and
 * lock the identities the batch touches, decide every event in order (the domain's `decideBatch`),
 * write the facts, the consumed offset and the outbox — and publish the outbox to the fact topics
 * while the next batch is applied. An event a step cannot process goes to the dead letter queue
 * with its step and reason, committed with the offset.
 *
 * A batch that fails for any reason but a dependency being away is split until the failing event
 * stands alone, and that event is set aside: one event never stalls its partition. A dependency
 * that is away (DependencyUnavailableError) fails the batch, which the log hands over again until
 * it is back.
 */
export function createIngestBatchHandler(deps: IngestDeps): IngestBatchHandler {
  const publisher = createFactPublisher(deps)
  const parse = createParseCommandStep()
  const resolveProject = createResolveProjectStep(deps)

  const prepare = async (messages: readonly LogMessage[], apps: BatchApps) => {
    const parsed = messages.map(parse)
    // A batch holds the events of few projects: each token is resolved once, not once per event.
    const teams = new Map<string, StepResult<TeamSettings>>()
    for (const event of parsed)
      if (event.kind === 'ok' && !teams.has(event.value.token))
        teams.set(event.value.token, await resolveProject(event.value))
    const prepared: PreparedEvent[] = []
    const setAside: OutboxRecord[] = []
    const dropped: { offset: number; warnings: Fact[] }[] = []
    for (const [i, message] of messages.entries()) {
      const event = parsed[i]!
      let result: StepResult<PreparedEvent>
      if (event.kind !== 'ok') result = event
      else {
        const team = teams.get(event.value.token)!
        result = team.kind === 'ok' ? await apps.run({ message, team: team.value, event: event.value }) : team
      }
      if (result.kind === 'ok') prepared.push(result.value)
      else if (result.kind === 'drop') dropped.push({ offset: message.offset, warnings: result.warnings })
      else setAside.push(deadLetterRecord(message, result.setAside, deps.now()))
    }
    return { prepared, setAside, dropped }
  }

  const ingest = async (batch: LogBatch): Promise<BatchResult> => {
    const apps = deps.apps ? await deps.apps.begin(batch) : noApps
    try {
      return await ingestWith(batch, apps)
    } finally {
      apps.close()
    }
  }

  const ingestWith = async (batch: LogBatch, apps: BatchApps): Promise<BatchResult> => {
    const started = performance.now()
    const lastOffset = batch.messages.at(-1)?.offset
    if (lastOffset === undefined) return { ingested: 0, dropped: 0, deadLettered: 0, alreadyApplied: 0 }
    const { prepared, setAside, dropped: droppedByApps } = await prepare(batch.messages, apps)
    let step: TransactionStep = 'load'
    let outcome: { outboxId: string | null; records: OutboxRecord[]; result: BatchResult }
    try {
      outcome = await publisher.transaction(async (tx) => {
        step = 'load'
        const consumed = (await tx.consumedOffset(deps.groupId, batch.topic, batch.partition)) ?? 0
        const fresh = prepared.filter((p) => p.message.offset >= consumed)
        const deadLetters = setAside.filter((record) => dlqOffset(record) >= consumed)
        const freshDropped = droppedByApps.filter((d) => d.offset >= consumed)
        const alreadyApplied = batch.messages.length - fresh.length - deadLetters.length - freshDropped.length
        const state = identityStateFrom(await tx.load(referencesOf(fresh)))
        await yieldToEventLoop()
        step = 'apply'
        const { facts, outcomes } = decideBatch(state, fresh)
        let ingested = 0
        let dropped = freshDropped.length
        outcomes.forEach((decided, i) => {
          if (decided === 'ingested') ingested++
          else if (decided === 'dropped') dropped++
          else
            deadLetters.push(deadLetterRecord(fresh[i]!.message, decideFailure(decided.failed), deps.now()))
        })
        // A database server writes the projection while the fact records are built and encoded here;
        // the statements queue on the transaction's connection.
        const applied = tx.applyFacts(facts)
        applied.catch(() => {}) // awaited below: until then a rejection must not count as unhandled
        await yieldToEventLoop()
        const stepWarnings = [...fresh, ...freshDropped].flatMap((p) => p.warnings ?? [])
        const records = [...factRecords(stepWarnings), ...factRecords(facts), ...deadLetters]
        if (lastOffset + 1 > consumed) {
          const firstOffset = Math.max(consumed, batch.messages[0]!.offset)
          await tx.commitOffset(deps.groupId, batch.topic, batch.partition, firstOffset, lastOffset + 1)
          const { topic, partition } = batch
          const appRuns = apps.record({
            groupId: deps.groupId,
            topic,
            partition,
            firstOffset,
            nextOffset: lastOffset + 1,
          })
          if (appRuns) tx.recordAppRuns(appRuns)
        }
        const outboxAdded = records.length > 0 ? tx.addToOutbox(records) : null
        outboxAdded?.catch(() => {})
        await applied
        const outboxId = await outboxAdded
        return {
          outboxId,
          records,
          result: { ingested, dropped, deadLettered: deadLetters.length, alreadyApplied },
        }
      })
    } catch (error) {
      if (isDependencyUnavailable(error)) throw error
      throw new TransactionStepError(step, error)
    }
    if (outcome.outboxId !== null) await publisher.publish(outcome.outboxId, outcome.records)
    await apps.committed()
    deps.metrics?.observeBatch(outcome.result, (performance.now() - started) / 1000)
    return outcome.result
  }

  // The halves run in order and each records its own range, so a replay meets them the same way.
  const isolating = async (batch: LogBatch): Promise<BatchResult> => {
    try {
      return await ingest(batch)
    } catch (error) {
      if (isDependencyUnavailable(error)) throw error
      if (batch.messages.length === 1) return deadLetterAlone(batch.messages[0]!, transactionFailure(error))
      deps.logger.debug(
        { err: error, topic: batch.topic, partition: batch.partition, size: batch.messages.length },
        'a batch failed; splitting it to find the event that fails',
      )
      const half = Math.ceil(batch.messages.length / 2)
      const first = await isolating({ ...batch, messages: batch.messages.slice(0, half) })
      return addBatchResults(first, await isolating({ ...batch, messages: batch.messages.slice(half) }))
    }
  }

  /** Records the lone event that failed as consumed, with its dead letter, in one transaction. */
  const deadLetterAlone = async (message: LogMessage, failure: SetAside): Promise<BatchResult> => {
    deps.logger.warn(
      { topic: message.topic, partition: message.partition, offset: message.offset, ...failure },
      'an event failed every time it was tried; it goes to the dead letter queue and the partition moves on',
    )
    const { topic, partition, offset } = message
    const outcome = await publisher.transaction(async (tx) => {
      const consumed = (await tx.consumedOffset(deps.groupId, topic, partition)) ?? 0
      if (offset < consumed) return null
      await tx.commitOffset(deps.groupId, topic, partition, offset, offset + 1)
      const records = [deadLetterRecord(message, failure, deps.now())]
      return { outboxId: await tx.addToOutbox(records), records }
    })
    if (outcome === null) return { ingested: 0, dropped: 0, deadLettered: 0, alreadyApplied: 1 }
    await publisher.publish(outcome.outboxId, outcome.records)
    const result = { ingested: 0, dropped: 0, deadLettered: 1, alreadyApplied: 0 }
    deps.metrics?.observeBatch(result, 0)
    return result
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

function decideFailure(error: unknown): SetAside {
  return { step: 'decide', code: 'decide_failed', reason: describe(error) }
}

function transactionFailure(error: unknown): SetAside {
  const step = error instanceof TransactionStepError ? error.step : 'ingest'
  const cause = error instanceof TransactionStepError ? error.failure : error
  if (cause instanceof IdentityDataRefusedError)
    return { step, code: 'database_refused', reason: cause.message }
  if (cause instanceof IdentityStoreConflictError)
    return { step, code: 'conflict_persisted', reason: cause.message }
  return { step, code: 'unexpected_error', reason: describe(cause) }
}

const describe = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error)

/**
 * An in-process database (PGlite) answers through microtasks only, so a whole transaction can run
 * without the event loop turning once; the previous batch's facts, on their way to the log, would
 * wait for it. A turn between the transaction's steps lets them go out meanwhile.
 */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * What the transaction must load and lock. The whole list of ids of a person a merge may absorb is
 * loaded, for the merge to move every one of them.
 */
function referencesOf(items: readonly PreparedEvent[]): IdentityReferences {
  const references: IdentityReferences = { distinctIds: [], groupTypeTeams: [], groups: [] }
  const teams = new Set<number>()
  const batch = { mergesDangerously: items.some(({ event }) => event.event === '$merge_dangerously') }
  for (const { event, team } of items) {
    const { teamId } = team
    const referenced = referencedIdentities(event, batch)
    for (const distinctId of referenced.distinctIds)
      references.distinctIds.push({
        teamId,
        distinctId,
        mayMerge: referenced.absorbable.includes(distinctId),
      })
    for (const group of referenced.groups) references.groups.push({ teamId, ...group })
    teams.add(teamId)
  }
  references.groupTypeTeams = [...teams]
  return references
}

function dlqOffset(record: OutboxRecord): number {
  return (JSON.parse(record.value) as { offset: number }).offset
}
