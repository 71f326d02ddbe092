import { type Kysely, type RawBuilder, sql, type Transaction } from 'kysely'
import {
  IdentityDataRefusedError,
  type IdentityReferences,
  type IdentityStore,
  type IdentityTransaction,
  type LoadedIdentities,
  type StoredPerson,
} from '../../ports/identity-store.ts'
import type { Fact, PersonSnapshot } from '../../schema/facts.ts'
import type { PostgresTables } from '../../schema/postgres/tables.ts'
import { groupBy, inChunks, partition } from './collections.ts'
import { type IdentityCache, type IdentityChanges, identityCache } from './identity-cache.ts'
import { decodeOutbox, deflateOutbox, inflateOutbox } from './outbox-encoding.ts'

type Tx = Transaction<PostgresTables>

// Lock races between ingest processes (deadlock, serialization failure, a row created or removed
// under us) are resolved by running the whole batch again on fresh state.
const retryableCodes = new Set(['40P01', '40001', '23505', '23503'])
const maxAttempts = 8

export class IdentityStoreConflictError extends Error {
  override readonly name = 'IdentityStoreConflictError'
  constructor(
    readonly attempts: number,
    cause: unknown,
  ) {
    super(`identity transaction still conflicting after ${attempts} attempts`, { cause })
  }
}

/** A person the batch's distinct ids pointed to was absorbed by a merge before we could lock it. */
class StaleDistinctIdsError extends Error {
  override readonly name = 'StaleDistinctIdsError'
  constructor() {
    super('a person was merged away between reading its distinct ids and locking it')
  }
}

const isRetryable = (error: unknown) =>
  error instanceof StaleDistinctIdsError || retryableCodes.has(sqlState(error) ?? '')
// Data exceptions and program limits: the same rows fail the same way however often they are tried.
const refusesData = (error: unknown) => /^(22|54)/.test(sqlState(error) ?? '')

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
  const reading: CacheUse = { cache, exclusive: options.exclusive ?? false }
  return {
    async transaction(work) {
      for (let attempt = 1; ; attempt++) {
        const changes: IdentityChanges = { persons: [], deletedPersons: [], distinctIds: [] }
        try {
          const result = await db
            .transaction()
            .execute((tx) => work(identityTransaction(tx, reading, changes)))
          cache.remember(changes)
          return result
        } catch (error) {
          // whatever failed, what the cache holds may no longer be what the database holds
          cache.forget()
          if (refusesData(error)) throw new IdentityDataRefusedError(sqlState(error) ?? '', error)
          if (!isRetryable(error)) throw error
          if (attempt >= maxAttempts) throw new IdentityStoreConflictError(attempt, error)
          await new Promise((resolve) => setTimeout(resolve, 5 * 2 ** attempt * Math.random()))
        }
      }
    },
    consumedOffset: (groupId, topic, partition) => consumedOffset(db, groupId, topic, partition),
    async pendingOutbox(limit) {
      const rows = await db
        .selectFrom('fact_outbox')
        .select(['id', 'records', 'records_deflated'])
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
    deleteOutbox: (ids) => deleteOutbox(db, ids),
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
      await sql`TRUNCATE persons, person_distinct_ids, personless_distinct_ids, group_type_mappings, groups,
        person_merges, consumer_offsets, ingest_batches, fact_outbox`.execute(db)
    },
  }
}

/** The SQLSTATE of a driver error, looking through wrapping errors' causes. */
function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error; typeof e === 'object' && e !== null; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') return code
  }
  return undefined
}

async function consumedOffset(db: Kysely<PostgresTables>, groupId: string, topic: string, partition: number) {
  const row = await db
    .selectFrom('consumer_offsets')
    .select('next_offset')
    .where('group_id', '=', groupId)
    .where('topic', '=', topic)
    .where('partition', '=', partition)
    .executeTakeFirst()
  return row === undefined ? undefined : Number(row.next_offset)
}

async function deleteOutbox(db: Kysely<PostgresTables>, ids: readonly string[]) {
  if (ids.length === 0) return
  await db.deleteFrom('fact_outbox').where('id', 'in', ids.map(Number)).execute()
}

/**
 * Rows that `load` did not find are created with a plain INSERT: if another process created them
 * meanwhile, the unique violation sends the whole batch round again on fresh state instead of
 * silently overwriting that process's work.
 */
interface Loaded {
  persons: Set<string>
  distinctIds: Set<string>
  groups: Set<string>
  /** Distinct ids personless events used that no person held yet. */
  unmergedPersonless: Set<string>
}

interface CacheUse {
  cache: IdentityCache
  exclusive: boolean
}

function identityTransaction(tx: Tx, reading: CacheUse, changes: IdentityChanges): IdentityTransaction {
  const loaded: Loaded = {
    persons: new Set(),
    distinctIds: new Set(),
    groups: new Set(),
    unmergedPersonless: new Set(),
  }
  return {
    consumedOffset: (groupId, topic, partition) => consumedOffset(tx, groupId, topic, partition),
    async load(references) {
      const identities = await loadIdentities(tx, references, reading)
      for (const person of identities.persons) {
        loaded.persons.add(person.uuid)
        const { distinctIds, ...snapshot } = person
        changes.persons.push(snapshot)
        for (const { distinctId, version } of distinctIds) {
          loaded.distinctIds.add(`${person.teamId}:${distinctId}`)
          changes.distinctIds.push({ teamId: person.teamId, distinctId, personUuid: person.uuid, version })
        }
      }
      for (const g of identities.groups) loaded.groups.add(`${g.teamId}:${g.groupTypeIndex}:${g.groupKey}`)
      for (const p of identities.personless)
        if (!p.isMerged) loaded.unmergedPersonless.add(`${p.teamId}:${p.distinctId}`)
      return identities
    },
    applyFacts: (facts) => applyFacts(tx, facts, loaded, changes),
    async commitOffset(groupId, topic, partition, firstOffset, nextOffset) {
      // one round trip for both rows
      await sql`WITH applied AS (
          INSERT INTO ingest_batches (group_id, topic, partition, first_offset, next_offset)
          VALUES (${groupId}, ${topic}, ${partition}, ${firstOffset}, ${nextOffset}))
        INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
        VALUES (${groupId}, ${topic}, ${partition}, ${nextOffset})
        ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = excluded.next_offset`.execute(tx)
    },
    deleteOutbox: (ids) => deleteOutbox(tx, ids),
    async addToOutbox(records) {
      const row = await tx
        .insertInto('fact_outbox')
        .values({ records_deflated: sql`decode(${deflateOutbox(records)}, 'base64')` })
        .returning('id')
        .executeTakeFirstOrThrow()
      return String(row.id)
    },
  }
}

/**
 * Only person rows (sorted by uuid) and group rows are locked, each set in a fixed order, so two
 * processes merging the same persons queue behind each other instead of deadlocking. Distinct id
 * rows are read without a lock: an id changes person only when a merge absorbs (deletes) its
 * person under that person's lock, so a person that is gone once we hold the locks means the ids
 * were read stale, and the batch runs again. An id created meanwhile fails our INSERT the same way.
 */
async function loadIdentities(
  tx: Tx,
  references: IdentityReferences,
  { cache, exclusive }: CacheUse,
): Promise<LoadedIdentities> {
  const assigned: { teamId: number; distinctId: string; personUuid: string; version: number }[] = []
  const mergeable = new Set<string>()
  const personless: LoadedIdentities['personless'] = []
  const idsByTeam = groupBy(references.distinctIds, (r) => r.teamId)
  for (const teamId of [...idsByTeam.keys()].sort((a, b) => a - b)) {
    const references = idsByTeam.get(teamId)!
    const merging = new Set(references.filter((r) => r.mayMerge).map((r) => r.distinctId))
    const assign = (distinctId: string, personUuid: string, version: number) => {
      assigned.push({ teamId, distinctId, personUuid, version })
      if (merging.has(distinctId)) mergeable.add(personUuid)
    }
    const unknown: string[] = []
    for (const distinctId of new Set(references.map((r) => r.distinctId))) {
      const cached = cache.distinctId(teamId, distinctId)
      if (cached) assign(distinctId, cached.personUuid, cached.version)
      else unknown.push(distinctId)
    }
    for (const chunk of inChunks(unknown, 5000)) {
      // The id's person, or — only an id without a person can be one a personless event used —
      // its personless row: null person and version then.
      const rows = await jsonRows<
        [
          distinctId: string,
          personUuid: string | null,
          version: number | null,
          personlessMerged: boolean | null,
        ]
      >(
        tx,
        sql`SELECT json_build_array(w.id, d.person_uuid, d.version, p.is_merged) AS row
          FROM unnest(${chunk}::text[]) AS w(id)
          LEFT JOIN person_distinct_ids d ON d.team_id = ${teamId} AND d.distinct_id = w.id
          LEFT JOIN personless_distinct_ids p
            ON d.distinct_id IS NULL AND p.team_id = ${teamId} AND p.distinct_id = w.id
          WHERE d.distinct_id IS NOT NULL OR p.distinct_id IS NOT NULL`,
      )
      for (const [distinctId, personUuid, version, personlessMerged] of rows) {
        if (personUuid === null) personless.push({ teamId, distinctId, isMerged: personlessMerged === true })
        else assign(distinctId, personUuid, version ?? 0)
      }
    }
  }

  const persons = new Map<string, StoredPerson>()
  const personUuids = [...new Set(assigned.map((a) => a.personUuid))].sort()
  const useCached = (uuid: string, version?: number) => {
    const cached = cache.person(uuid)
    if (cached === undefined || (version !== undefined && cached.version !== version)) return false
    persons.set(uuid, { ...cached, distinctIds: [] })
    return true
  }
  if (exclusive) {
    // alone on the database: a cached person is the row itself, and there is no one to lock out
    await readPersons(
      tx,
      personUuids.filter((uuid) => !useCached(uuid)),
      false,
      persons,
    )
  } else if (!personUuids.some((uuid) => cache.person(uuid) !== undefined)) {
    await readPersons(tx, personUuids, true, persons)
  } else {
    // Another process may have changed a cached person: lock every row, and read again only those
    // whose version moved since.
    const stale: string[] = []
    for (const chunk of inChunks(personUuids, 5000)) {
      const rows = await jsonRows<[uuid: string, version: number]>(
        tx,
        sql`SELECT json_build_array(uuid, version) AS row
          FROM (SELECT uuid, version FROM persons WHERE uuid = ANY(${chunk}::uuid[]) ORDER BY uuid FOR UPDATE) locked`,
      )
      for (const [uuid, version] of rows) if (!useCached(uuid, version)) stale.push(uuid)
    }
    await readPersons(tx, stale, false, persons)
  }
  if (persons.size < personUuids.length) throw new StaleDistinctIdsError()

  // A person a merge may absorb moves all its ids: read them now that no one else can change them.
  const complete = [...mergeable].sort()
  for (const chunk of inChunks(complete, 5000)) {
    const rows = await jsonRows<[personUuid: string, distinctId: string, version: number]>(
      tx,
      sql`SELECT json_build_array(person_uuid, distinct_id, version) AS row FROM person_distinct_ids
        WHERE person_uuid = ANY(${chunk}::uuid[]) ORDER BY distinct_id`,
    )
    for (const [personUuid, distinctId, version] of rows)
      persons.get(personUuid)?.distinctIds.push({ distinctId, version })
  }
  for (const a of assigned) {
    if (!mergeable.has(a.personUuid))
      persons.get(a.personUuid)?.distinctIds.push({ distinctId: a.distinctId, version: a.version })
  }

  const groupTypeTeams = [...new Set(references.groupTypeTeams)]
  const groupTypes =
    groupTypeTeams.length === 0
      ? []
      : (
          await tx
            .selectFrom('group_type_mappings')
            .select(['team_id', 'group_type', 'group_type_index'])
            .where('team_id', 'in', groupTypeTeams)
            .execute()
        ).map((r) => ({ teamId: r.team_id, groupType: r.group_type, groupTypeIndex: r.group_type_index }))

  const indexOf = new Map(groupTypes.map((t) => [`${t.teamId}:${t.groupType}`, t.groupTypeIndex]))
  const groups: LoadedIdentities['groups'] = []
  const wanted = references.groups
    .map((g) => ({ teamId: g.teamId, index: indexOf.get(`${g.teamId}:${g.groupType}`), key: g.groupKey }))
    .filter((g): g is { teamId: number; index: number; key: string } => g.index !== undefined)
    .sort((a, b) => a.teamId - b.teamId || a.index - b.index || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  for (const chunk of inChunks(wanted, 1000)) {
    const rows = await sql<{
      team_id: number
      group_type_index: number
      group_key: string
      group_properties: Record<string, unknown>
      created_at: Date
      version: number
    }>`SELECT team_id, group_type_index, group_key, group_properties, created_at, version FROM groups
      WHERE (team_id, group_type_index, group_key) IN (${sql.join(chunk.map((g) => sql`(${g.teamId}::integer, ${g.index}::smallint, ${g.key}::text)`))})
      ORDER BY team_id, group_type_index, group_key FOR UPDATE`.execute(tx)
    for (const row of rows.rows) {
      groups.push({
        teamId: row.team_id,
        groupTypeIndex: row.group_type_index,
        groupKey: row.group_key,
        properties: row.group_properties,
        createdAt: row.created_at.toISOString(),
        version: Number(row.version),
      })
    }
  }
  return { persons: [...persons.values()], personless, groupTypes, groups }
}

/**
 * Applies a batch's facts set-based, in one statement: the last fact per row decides its final
 * state, each table's rows go in as one JSON document (parsed once, as jsonb — a single parameter,
 * no array-literal escaping on either side), and every write is a data-modifying CTE, so the
 * database does all of it in one round trip while ingest builds the fact records. The writes touch
 * disjoint rows, which is what makes running them as one statement safe; the distinct ids'
 * foreign key is deferred to the commit. An update never lets an older snapshot overwrite a newer.
 */
async function applyFacts(
  tx: Tx,
  facts: readonly Fact[],
  loaded: Loaded,
  changes: IdentityChanges,
): Promise<void> {
  const persons = new Map<string, PersonSnapshot | 'deleted'>()
  const distinctIds = new Map<string, DistinctIdRow>()
  const personless = new Map<string, { teamId: number; distinctId: string }>()
  const groupTypes: Extract<Fact, { type: 'group_type_assigned' }>[] = []
  const groups = new Map<string, Extract<Fact, { type: 'group_updated' }>>()
  const merges: Extract<Fact, { type: 'persons_merged' }>[] = []
  for (const fact of facts) {
    switch (fact.type) {
      case 'person_created':
      case 'person_updated':
        persons.set(fact.uuid, fact)
        break
      case 'person_deleted':
        persons.set(fact.uuid, 'deleted')
        break
      case 'distinct_id_assigned':
        distinctIds.set(`${fact.teamId}:${fact.distinctId}`, fact)
        break
      case 'personless_distinct_id_seen':
        personless.set(`${fact.teamId}:${fact.distinctId}`, fact)
        break
      case 'group_type_assigned':
        groupTypes.push(fact)
        break
      case 'group_updated':
        groups.set(`${fact.teamId}:${fact.groupTypeIndex}:${fact.groupKey}`, fact)
        break
      case 'persons_merged':
        merges.push(fact)
        break
      case 'ingestion_warning':
      case 'event_ingested':
        break
    }
  }

  const writes: RawBuilder<unknown>[] = []
  const write = <Row>(
    rows: readonly Row[],
    statement: (document: RawBuilder<unknown>) => RawBuilder<unknown>,
  ) => {
    if (rows.length > 0) writes.push(statement(sql`jsonb_array_elements(${JSON.stringify(rows)}::jsonb)`))
  }

  const snapshots = [...persons.values()].filter((p): p is PersonSnapshot => p !== 'deleted')
  const [updatedPersons, createdPersons] = partition(snapshots, (p) => loaded.persons.has(p.uuid))
  const personRow = (p: PersonSnapshot) => [
    p.uuid,
    p.teamId,
    p.createdAt,
    p.properties,
    p.isIdentified,
    p.version,
  ]
  const insertPersons = (document: RawBuilder<unknown>) => sql`INSERT INTO persons
    (uuid, team_id, created_at, properties, is_identified, version)
    SELECT (r->>0)::uuid, (r->>1)::integer, (r->>2)::timestamptz, r->3, (r->>4)::boolean, (r->>5)::bigint
    FROM ${document} AS r`
  write(createdPersons.map(personRow), insertPersons)
  write(
    updatedPersons.map(personRow),
    (document) => sql`${insertPersons(document)} ON CONFLICT (uuid) DO UPDATE SET
      created_at = excluded.created_at, properties = excluded.properties,
      is_identified = excluded.is_identified, version = excluded.version
      WHERE persons.version <= excluded.version`,
  )

  const [movedIds, addedIds] = partition([...distinctIds.values()], (d) =>
    loaded.distinctIds.has(`${d.teamId}:${d.distinctId}`),
  )
  const idRow = (d: DistinctIdRow) => [d.teamId, d.distinctId, d.personUuid, d.version]
  const insertIds = (document: RawBuilder<unknown>) => sql`INSERT INTO person_distinct_ids
    (team_id, distinct_id, person_uuid, version)
    SELECT (r->>0)::integer, r->>1, (r->>2)::uuid, (r->>3)::bigint FROM ${document} AS r`
  write(addedIds.map(idRow), insertIds)
  write(
    movedIds.map(idRow),
    (document) => sql`${insertIds(document)} ON CONFLICT (team_id, distinct_id) DO UPDATE SET
      person_uuid = excluded.person_uuid, version = excluded.version
      WHERE person_distinct_ids.version <= excluded.version`,
  )
  // ids personless events used that now have a person
  write(
    [...distinctIds.values()]
      .filter((d) => loaded.unmergedPersonless.has(`${d.teamId}:${d.distinctId}`))
      .map((d) => [d.teamId, d.distinctId]),
    (document) => sql`UPDATE personless_distinct_ids AS p SET is_merged = true FROM ${document} AS r
      WHERE p.team_id = (r->>0)::integer AND p.distinct_id = r->>1 AND NOT p.is_merged`,
  )
  write(
    [...persons].filter(([, p]) => p === 'deleted').map(([uuid]) => uuid),
    (document) => sql`DELETE FROM persons WHERE uuid IN (SELECT (r #>> '{}')::uuid FROM ${document} AS r)`,
  )
  write(
    // seen personless, and merged if given a person within this very batch
    [...personless.values()].map((p) => [
      p.teamId,
      p.distinctId,
      distinctIds.has(`${p.teamId}:${p.distinctId}`),
    ]),
    (document) => sql`INSERT INTO personless_distinct_ids (team_id, distinct_id, is_merged)
      SELECT (r->>0)::integer, r->>1, (r->>2)::boolean FROM ${document} AS r
      ON CONFLICT (team_id, distinct_id) DO NOTHING`,
  )
  write(
    groupTypes.map((t) => [t.teamId, t.groupType, t.groupTypeIndex]),
    (document) => sql`INSERT INTO group_type_mappings (team_id, group_type, group_type_index)
      SELECT (r->>0)::integer, r->>1, (r->>2)::smallint FROM ${document} AS r ON CONFLICT DO NOTHING`,
  )
  const groupRow = (g: Extract<Fact, { type: 'group_updated' }>) => [
    g.teamId,
    g.groupTypeIndex,
    g.groupKey,
    g.properties,
    g.createdAt,
    g.version,
  ]
  const insertGroups = (document: RawBuilder<unknown>) => sql`INSERT INTO groups
    (team_id, group_type_index, group_key, group_properties, created_at, version)
    SELECT (r->>0)::integer, (r->>1)::smallint, r->>2, r->3, (r->>4)::timestamptz, (r->>5)::bigint
    FROM ${document} AS r`
  const [updatedGroups, createdGroups] = partition([...groups.values()], (g) =>
    loaded.groups.has(`${g.teamId}:${g.groupTypeIndex}:${g.groupKey}`),
  )
  write(createdGroups.map(groupRow), insertGroups)
  write(
    updatedGroups.map(groupRow),
    (
      document,
    ) => sql`${insertGroups(document)} ON CONFLICT (team_id, group_type_index, group_key) DO UPDATE SET
      group_properties = excluded.group_properties, created_at = excluded.created_at, version = excluded.version
      WHERE groups.version <= excluded.version`,
  )
  write(
    merges.map((m) => [
      m.teamId,
      m.keptPersonUuid,
      m.mergedPersonUuid,
      m.distinctIds,
      m.eventUuid,
      m.event,
      m.timestamp,
    ]),
    (document) => sql`INSERT INTO person_merges
      (team_id, kept_person_uuid, merged_person_uuid, distinct_ids, event_uuid, event, timestamp)
      SELECT (r->>0)::integer, (r->>1)::uuid, (r->>2)::uuid, r->3, (r->>4)::uuid, r->>5, (r->>6)::timestamptz
      FROM ${document} AS r
      ON CONFLICT (event_uuid, merged_person_uuid) DO NOTHING`,
  )

  if (writes.length === 0) return
  const ctes = writes.map((statement, i) => sql`${sql.raw(`write_${i}`)} AS (${statement})`)
  await sql`WITH ${sql.join(ctes)} SELECT 1`.execute(tx)
  changes.persons.push(...snapshots)
  for (const [uuid, person] of persons) if (person === 'deleted') changes.deletedPersons.push(uuid)
  changes.distinctIds.push(...distinctIds.values())
}

type DistinctIdRow = { teamId: number; distinctId: string; personUuid: string; version: number }

/** Reads persons whole, and locks them (in uuid order) when asked to. */
async function readPersons(
  tx: Tx,
  uuids: readonly string[],
  lock: boolean,
  into: Map<string, StoredPerson>,
): Promise<void> {
  for (const chunk of inChunks([...uuids].sort(), 5000)) {
    const rows = await jsonRows<
      [
        uuid: string,
        teamId: number,
        createdAtMs: number,
        properties: Record<string, unknown>,
        isIdentified: boolean,
        version: number,
      ]
    >(
      tx,
      sql`SELECT json_build_array(uuid, team_id, floor(extract(epoch FROM created_at) * 1000)::bigint,
          properties, is_identified, version) AS row
        FROM (SELECT * FROM persons WHERE uuid = ANY(${chunk}::uuid[]) ORDER BY uuid ${sql.raw(lock ? 'FOR UPDATE' : '')}) rows`,
    )
    for (const [uuid, teamId, createdAtMs, properties, isIdentified, version] of rows) {
      const createdAt = new Date(createdAtMs).toISOString()
      into.set(uuid, { teamId, uuid, createdAt, properties, isIdentified, version, distinctIds: [] })
    }
  }
}

/** Rows of a `SELECT json_build_array(…) AS row` query, sent back as one JSON document. */
async function jsonRows<Row>(tx: Tx, query: RawBuilder<unknown>): Promise<Row[]> {
  const { rows } = await sql<{ rows: string }>`SELECT coalesce(json_agg(q.row), '[]')::text AS rows
    FROM (${query}) q`.execute(tx)
  return JSON.parse(rows[0]!.rows) as Row[]
}
