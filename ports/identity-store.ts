import type { AppRunRecord } from '../schema/apps.ts'
import type { Fact } from '../schema/facts.ts'

/**
 * The authoritative person/group projection as ingest sees it: one transaction per batch that
 * locks and loads what the batch touches, applies the facts the domain decided, records the
 * consumed offset and the facts to publish — all or nothing.
 */
export interface StoredPerson {
  teamId: number
  uuid: string
  createdAt: string
  properties: Record<string, unknown>
  isIdentified: boolean
  version: number
  /**
   * Every distinct id of a person a merge may absorb (one that a `mayMerge` reference names);
   * of any other person, the referenced ones — which is all the domain reads of it.
   */
  distinctIds: { distinctId: string; version: number }[]
}

export interface StoredGroup {
  teamId: number
  groupTypeIndex: number
  groupKey: string
  properties: Record<string, unknown>
  createdAt: string
  version: number
}

export interface IdentityReferences {
  /** Distinct ids per team; `mayMerge` when a merge of the batch may absorb the id's person. */
  distinctIds: { teamId: number; distinctId: string; mayMerge?: boolean }[]
  /** Teams whose group type mapping is needed (all types of a team are loaded). */
  groupTypeTeams: number[]
  groups: { teamId: number; groupType: string; groupKey: string }[]
}

export interface LoadedIdentities {
  persons: StoredPerson[]
  personless: { teamId: number; distinctId: string; isMerged: boolean }[]
  groupTypes: { teamId: number; groupType: string; groupTypeIndex: number }[]
  groups: StoredGroup[]
}

export interface AppliedBatch {
  topic: string
  partition: number
  firstOffset: number
  nextOffset: number
}

export interface OutboxEntry {
  id: string
  records: OutboxRecord[]
}

export interface OutboxRecord {
  topic: string
  key: string | null
  value: string
}

export interface IdentityTransaction {
  /** Next offset to consume for a partition, as committed with the projection. */
  consumedOffset(groupId: string, topic: string, partition: number): Promise<number | undefined>
  /** Loads and row-locks (persons, then groups, each in a fixed order) everything the references name. */
  load(references: IdentityReferences): Promise<LoadedIdentities>
  applyFacts(facts: readonly Fact[]): Promise<void>
  /** Records that [firstOffset, nextOffset) of a partition was applied, after every batch before it. */
  commitOffset(
    groupId: string,
    topic: string,
    partition: number,
    firstOffset: number,
    nextOffset: number,
  ): Promise<void>
  addToOutbox(records: OutboxRecord[]): Promise<string>
  deleteOutbox(ids: readonly string[]): Promise<void>
  /** Records which app versions ran on the batch's range, for replays (kept by `reset`). */
  recordAppRuns(record: AppRunRecord): void
}

export interface IdentityStore {
  /** Runs `work` in one transaction; retried from the start when it loses a lock race. */
  transaction<T>(work: (tx: IdentityTransaction) => Promise<T>): Promise<T>
  consumedOffset(groupId: string, topic: string, partition: number): Promise<number | undefined>
  /** Outbox entries in commit order; only those committed at least `olderThanSeconds` ago when given. */
  pendingOutbox(limit: number, olderThanSeconds?: number): Promise<OutboxEntry[]>
  deleteOutbox(ids: readonly string[]): Promise<void>
  /** The ranges of the command log in the order they were applied (for a replay to follow). */
  appliedBatches(groupId: string): Promise<AppliedBatch[]>
  /** Empties the projection (persons, ids, groups, merges, offsets, outbox) for a replay. */
  reset(): Promise<void>
}

/**
 * The database refused the batch's data itself (a value it cannot store, a limit it cannot go
 * past): trying again fails the same way, so ingest isolates the event and dead-letters it.
 */
export class IdentityDataRefusedError extends Error {
  override readonly name = 'IdentityDataRefusedError'
  constructor(
    readonly sqlState: string,
    cause: unknown,
  ) {
    const detail = cause instanceof Error ? cause.message : String(cause)
    super(`the database refused the data (SQLSTATE ${sqlState}): ${detail}`, { cause })
  }
}

/**
 * The batch's transaction kept losing lock races with other writers, attempt after attempt: ingest
 * treats the batch like one it cannot process, and isolates the event.
 */
export class IdentityStoreConflictError extends Error {
  override readonly name = 'IdentityStoreConflictError'
  constructor(
    readonly attempts: number,
    cause: unknown,
  ) {
    const detail = cause instanceof Error ? cause.message : String(cause)
    super(`the identity transaction still conflicted after ${attempts} attempts: ${detail}`, { cause })
  }
}
