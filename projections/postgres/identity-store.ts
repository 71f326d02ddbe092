import { type Kysely, type RawBuilder, sql, type Transaction } from 'kysely'
import { DependencyUnavailableError, isDependencyUnavailable } from '../../ports/failures.ts'
import {
  IdentityDataRefusedError,
  type IdentityStore,
  IdentityStoreConflictError,
  type IdentityTransaction,
} from '../../ports/identity-store.ts'
import { groupIdentityKey, identityKey } from '../../schema/identity-keys.ts'
import type { PostgresTables } from '../../schema/postgres/tables.ts'
import { applyFacts, type Loaded } from './apply-facts.ts'
import { classifyDatabaseError, sqlStateOf } from './database-errors.ts'
import { type IdentityChanges, identityCache } from './identity-cache.ts'
import { type CacheUse, loadIdentities, StaleDistinctIdsError } from './load-identities.ts'
import { decodeOutbox, deflateOutbox, inflateOutbox } from './outbox-encoding.ts'

type Tx = Transaction<PostgresTables>

// Lock races between ingest processes (database-errors.ts, `conflict`) are resolved by running the
// whole batch again on fresh state, a bounded number of times.
const maxAttempts = 8

export interface IdentityStoreOptions {
  /**
   * Nothing but this store writes the database (PGlite, whose data dir one process holds): what it
   * committed last is the truth, so cached persons are used as they are and no row is locked.
   */
  exclusive?: boolean
  /** Persons (and, apart, distinct ids) kept from one batch for the next. */
  cachedEntries?: number
}

export function postgresIdentityStore(
  db: Kysely<PostgresTables>,
  options: IdentityStoreOptions = {},
): IdentityStore {
  const cache = identityCache(options.cachedEntries ?? 100_000)
  const reading: Omit<CacheUse, 'read'> = { cache, exclusive: options.exclusive ?? false }
  return {
    async transaction(work) {
      for (let attempt = 1; ; attempt++) {
        const changes: IdentityChanges = { persons: [], deletedPersons: [], distinctIds: [] }
        try {
          const result = await db.transaction().execute(async (tx) => {
            const transaction = identityTransaction(tx, reading, changes)
            const result = await work(transaction)
            await transaction.flush()
            return result
          })
          cache.remember(changes)
          return result
        } catch (error) {
          // whatever failed, what the cache holds may no longer be what the database holds
          cache.forget()
          if (isDependencyUnavailable(error)) throw error
          const failure = error instanceof StaleDistinctIdsError ? 'conflict' : classifyDatabaseError(error)
          if (failure === 'unavailable')
            throw new DependencyUnavailableError('postgres', 'the database is unavailable', { cause: error })
          if (failure === 'refused') throw new IdentityDataRefusedError(sqlStateOf(error) ?? '', error)
          if (failure !== 'conflict') throw error
          if (attempt >= maxAttempts) throw new IdentityStoreConflictError(attempt, error)
          await new Promise((resolve) => setTimeout(resolve, 5 * 2 ** attempt * Math.random()))
        }
      }
    },
    consumedOffset: (groupId, topic, partition) => consumedOffset(db, groupId, topic, partition),
    async pendingOutbox(limit, olderThanSeconds) {
      const rows = await db
        .selectFrom('fact_outbox')
        .select(['id', 'records', 'records_deflated'])
        .$if(olderThanSeconds !== undefined, (query) =>
          query.where(sql<boolean>`created_at < now() - make_interval(secs => ${olderThanSeconds})`),
        )
        .orderBy('id')
        .limit(limit)
        .execute()
      return rows.map((row) => ({
        id: String(row.id),
        records:
          row.records_deflated !== null
            ? inflateOutbox(row.records_deflated)
            : decodeOutbox(row.records ?? ''),
      }))
    },
    async deleteOutbox(ids) {
      if (ids.length > 0) await outboxDeletion(ids).execute(db)
    },
    async appliedBatches(groupId) {
      const rows = await db
        .selectFrom('ingest_batches')
        .select(['topic', 'partition', 'first_offset', 'next_offset'])
        .where('group_id', '=', groupId)
        .orderBy('seq')
        .execute()
      return rows.map((r) => ({
        topic: r.topic,
        partition: r.partition,
        firstOffset: r.first_offset,
        nextOffset: r.next_offset,
      }))
    },
    async reset() {
      cache.forget()
      // apps, their versions and app_runs are configuration and history a replay reads: kept
      await sql`TRUNCATE persons, person_distinct_ids, personless_distinct_ids, group_type_mappings, groups,
        person_merges, consumer_offsets, ingest_batches, fact_outbox`.execute(db)
    },
  }
}

async function consumedOffset(
  db: Kysely<PostgresTables>,
  groupId: string,
  topic: string,
  partition: number,
  writingFirst: readonly RawBuilder<unknown>[] = [],
) {
  const { rows } = await withWrites(
    writingFirst,
    sql`SELECT next_offset FROM consumer_offsets
      WHERE group_id = ${groupId} AND topic = ${topic} AND partition = ${partition}`,
  ).execute(db)
  const row = rows[0] as { next_offset: number | string } | undefined
  return row === undefined ? undefined : Number(row.next_offset)
}

/** `statement`, with data-modifying CTEs in front that the database runs in the same round trip. */
function withWrites(
  writes: readonly RawBuilder<unknown>[],
  statement: RawBuilder<unknown>,
): RawBuilder<unknown> {
  if (writes.length === 0) return statement
  const ctes = writes.map((write, i) => sql`${sql.raw(`pending_${i}`)} AS (${write})`)
  return sql`WITH ${sql.join(ctes)} ${statement}`
}

const outboxDeletion = (ids: readonly string[]) =>
  sql`DELETE FROM fact_outbox WHERE id = ANY(${ids.map(Number)}::bigint[])`

/**
 * Small writes that need no answer — deleting published outbox entries, recording the consumed
 * offset — wait and ride along with the transaction's next statement (or go alone before the
 * commit), so a batch costs fewer round trips.
 */
function identityTransaction(
  tx: Tx,
  reading: Omit<CacheUse, 'read'>,
  changes: IdentityChanges,
): IdentityTransaction & { flush(): Promise<void> } {
  let outboxDeletes: RawBuilder<unknown>[] = []
  let offsetWrites: RawBuilder<unknown>[] = []
  const takeAll = () => {
    const writes = [...outboxDeletes, ...offsetWrites]
    outboxDeletes = []
    offsetWrites = []
    return writes
  }
  const loaded: Loaded = {
    persons: new Set(),
    distinctIds: new Set(),
    groups: new Set(),
    unmergedPersonless: new Set(),
  }
  return {
    async consumedOffset(groupId, topic, partition) {
      // a recorded offset must be written before it is read back; deletions can ride along
      if (offsetWrites.length > 0) await withWrites(takeAll(), sql`SELECT 1`).execute(tx)
      const deletes = outboxDeletes
      outboxDeletes = []
      return consumedOffset(tx, groupId, topic, partition, deletes)
    },
    async load(references) {
      const identities = await loadIdentities(tx, references, { ...reading, read: changes })
      for (const person of identities.persons) {
        loaded.persons.add(person.uuid)
        for (const { distinctId } of person.distinctIds)
          loaded.distinctIds.add(identityKey(person.teamId, distinctId))
      }
      for (const g of identities.groups)
        loaded.groups.add(groupIdentityKey(g.teamId, g.groupTypeIndex, g.groupKey))
      for (const p of identities.personless)
        if (!p.isMerged) loaded.unmergedPersonless.add(identityKey(p.teamId, p.distinctId))
      return identities
    },
    applyFacts: (facts) => applyFacts(tx, facts, loaded, changes),
    async commitOffset(groupId, topic, partition, firstOffset, nextOffset) {
      offsetWrites.push(
        sql`INSERT INTO ingest_batches (group_id, topic, partition, first_offset, next_offset)
          VALUES (${groupId}, ${topic}, ${partition}, ${firstOffset}, ${nextOffset})`,
        sql`INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
          VALUES (${groupId}, ${topic}, ${partition}, ${nextOffset})
          ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = excluded.next_offset`,
      )
    },
    async deleteOutbox(ids) {
      if (ids.length > 0) outboxDeletes.push(outboxDeletion(ids))
    },
    recordAppRuns(record) {
      offsetWrites.push(
        sql`INSERT INTO app_runs (group_id, topic, partition, first_offset, next_offset, runs, failures)
          VALUES (${record.groupId}, ${record.topic}, ${record.partition}, ${record.firstOffset},
            ${record.nextOffset}, ${JSON.stringify(record.runs)}::jsonb, ${JSON.stringify(record.failures)}::jsonb)`,
      )
    },
    async addToOutbox(records) {
      const { rows } = await withWrites(
        takeAll(),
        sql`INSERT INTO fact_outbox (records_deflated)
          VALUES (decode(${deflateOutbox(records)}, 'base64')) RETURNING id`,
      ).execute(tx)
      return String((rows[0] as { id: number | string }).id)
    },
    async flush() {
      const writes = takeAll()
      if (writes.length > 0) await withWrites(writes, sql`SELECT 1`).execute(tx)
    },
  }
}
