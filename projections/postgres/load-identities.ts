import { type RawBuilder, sql, type Transaction } from 'kysely'
import type { IdentityReferences, LoadedIdentities, StoredPerson } from '../../ports/identity-store.ts'
import { identityKey } from '../../schema/identity-keys.ts'
import type { PostgresTables } from '../../schema/postgres/tables.ts'
import { groupBy, inChunks } from './collections.ts'
import type { IdentityCache, IdentityChanges } from './identity-cache.ts'

type Tx = Transaction<PostgresTables>

/** A person the batch's distinct ids pointed to was absorbed by a merge before we could lock it. */
export class StaleDistinctIdsError extends Error {
  override readonly name = 'StaleDistinctIdsError'
  constructor() {
    super('a person was merged away between reading its distinct ids and locking it')
  }
}

export interface CacheUse {
  cache: IdentityCache
  exclusive: boolean
  /** Where rows read from the database go, for the cache to take them once the transaction commits. */
  read: IdentityChanges
}

/**
 * Only person rows (sorted by uuid) and group rows are locked, each set in a fixed order, so two
 * processes merging the same persons queue behind each other instead of deadlocking. Distinct id
 * rows are read without a lock: an id changes person only when a merge absorbs (deletes) its
 * person under that person's lock, so a person that is gone once we hold the locks means the ids
 * were read stale, and the batch runs again. An id created meanwhile fails our INSERT the same way.
 */
export async function loadIdentities(
  tx: Tx,
  references: IdentityReferences,
  { cache, exclusive, read }: CacheUse,
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
      const rows = await jsonRows<{
        distinct_id: string
        person_uuid: string | null
        version: number | null
        personless_merged: boolean | null
      }>(
        tx,
        sql`SELECT json_build_object('distinct_id', w.id, 'person_uuid', d.person_uuid, 'version', d.version,
            'personless_merged', p.is_merged) AS row
          FROM unnest(${chunk}::text[]) AS w(id)
          LEFT JOIN LATERAL (SELECT person_uuid, version FROM person_distinct_ids
            WHERE team_id = ${teamId} AND distinct_id = w.id LIMIT 1) d ON true
          LEFT JOIN LATERAL (SELECT is_merged FROM personless_distinct_ids
            WHERE d.person_uuid IS NULL AND team_id = ${teamId} AND distinct_id = w.id LIMIT 1) p ON true
          WHERE d.person_uuid IS NOT NULL OR p.is_merged IS NOT NULL`,
      )
      for (const row of rows) {
        const distinctId = row.distinct_id
        if (row.person_uuid === null)
          personless.push({ teamId, distinctId, isMerged: row.personless_merged === true })
        else {
          assign(distinctId, row.person_uuid, row.version ?? 0)
          read.distinctIds.push({
            teamId,
            distinctId,
            personUuid: row.person_uuid,
            version: row.version ?? 0,
          })
        }
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
      read,
    )
  } else if (!personUuids.some((uuid) => cache.person(uuid) !== undefined)) {
    await readPersons(tx, personUuids, true, persons, read)
  } else {
    // Another process may have changed a cached person: lock every row, and read again only those
    // whose version moved since.
    const stale: string[] = []
    for (const chunk of inChunks(personUuids, 5000)) {
      const rows = await jsonRows<{ uuid: string; version: number }>(
        tx,
        sql`SELECT json_build_object('uuid', p.uuid, 'version', p.version) AS row
          FROM unnest(${chunk}::uuid[]) AS w(uuid)
          CROSS JOIN LATERAL (SELECT uuid, version FROM persons WHERE uuid = w.uuid LIMIT 1 FOR UPDATE) p`,
      )
      for (const { uuid, version } of rows) if (!useCached(uuid, version)) stale.push(uuid)
    }
    await readPersons(tx, stale, false, persons, read)
  }
  if (persons.size < personUuids.length) throw new StaleDistinctIdsError()

  // A person a merge may absorb moves all its ids: read them now that no one else can change them.
  const complete = [...mergeable].sort()
  for (const chunk of inChunks(complete, 5000)) {
    const rows = await jsonRows<{ person_uuid: string; distinct_id: string; version: number }>(
      tx,
      sql`SELECT json_build_object('person_uuid', w.uuid, 'distinct_id', d.distinct_id, 'version', d.version) AS row
        FROM unnest(${chunk}::uuid[]) AS w(uuid)
        CROSS JOIN LATERAL (SELECT distinct_id, version FROM person_distinct_ids
          WHERE person_uuid = w.uuid OFFSET 0) d
        ORDER BY d.distinct_id`,
    )
    for (const row of rows)
      persons.get(row.person_uuid)?.distinctIds.push({ distinctId: row.distinct_id, version: row.version })
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

  const indexOf = new Map(groupTypes.map((t) => [identityKey(t.teamId, t.groupType), t.groupTypeIndex]))
  const groups: LoadedIdentities['groups'] = []
  const wanted = references.groups
    .map((g) => ({
      teamId: g.teamId,
      index: indexOf.get(identityKey(g.teamId, g.groupType)),
      key: g.groupKey,
    }))
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

// Rows are looked up one key at a time from `unnest(keys)` through a LATERAL subquery (with LIMIT or
// OFFSET, which the planner cannot fold into a join), so each is an index probe, and persons are
// locked in the order of their sorted keys: given `= ANY(array)` or a join with a thousand keys,
// PostgreSQL estimates a sequential scan or a hash join over the whole table cheaper, and reads
// every row on every batch.

/** Reads persons whole, and locks them (in uuid order) when asked to. */
async function readPersons(
  tx: Tx,
  uuids: readonly string[],
  lock: boolean,
  into: Map<string, StoredPerson>,
  read: IdentityChanges,
): Promise<void> {
  for (const chunk of inChunks([...uuids].sort(), 5000)) {
    const rows = await jsonRows<{
      uuid: string
      team_id: number
      created_at_ms: number
      properties: Record<string, unknown>
      is_identified: boolean
      version: number
    }>(
      tx,
      sql`SELECT json_build_object('uuid', p.uuid, 'team_id', p.team_id,
          'created_at_ms', floor(extract(epoch FROM p.created_at) * 1000)::bigint,
          'properties', p.properties, 'is_identified', p.is_identified, 'version', p.version) AS row
        FROM unnest(${chunk}::uuid[]) AS w(uuid)
        CROSS JOIN LATERAL (SELECT * FROM persons WHERE uuid = w.uuid LIMIT 1 ${sql.raw(lock ? 'FOR UPDATE' : '')}) p`,
    )
    for (const {
      uuid,
      team_id: teamId,
      created_at_ms,
      properties,
      is_identified: isIdentified,
      version,
    } of rows) {
      const createdAt = new Date(created_at_ms).toISOString()
      read.persons.push({ teamId, uuid, createdAt, properties, isIdentified, version })
      into.set(uuid, { teamId, uuid, createdAt, properties, isIdentified, version, distinctIds: [] })
    }
  }
}

/** Rows of a `SELECT json_build_object(…) AS row` query, sent back as one JSON document. */
async function jsonRows<Row>(tx: Tx, query: RawBuilder<unknown>): Promise<Row[]> {
  const { rows } = await sql<{ rows: string }>`SELECT coalesce(json_agg(q.row), '[]')::text AS rows
    FROM (${query}) q`.execute(tx)
  return JSON.parse(rows[0]!.rows) as Row[]
}
