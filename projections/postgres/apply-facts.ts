import { type RawBuilder, sql, type Transaction } from 'kysely'
import type { Fact, PersonSnapshot } from '../../schema/facts.ts'
import type { PostgresTables } from '../../schema/postgres/tables.ts'
import { partition } from './collections.ts'
import type { IdentityChanges } from './identity-cache.ts'

type Tx = Transaction<PostgresTables>

/**
 * Rows that `load` did not find are created with a plain INSERT: if another process created them
 * meanwhile, the unique violation sends the whole batch round again on fresh state instead of
 * silently overwriting that process's work.
 */
export interface Loaded {
  persons: Set<string>
  distinctIds: Set<string>
  groups: Set<string>
  /** Distinct ids personless events used that no person held yet. */
  unmergedPersonless: Set<string>
}

/**
 * Applies a batch's facts set-based, in one statement: the last fact per row decides its final
 * state, each table's rows go in as one JSON document (parsed once, as jsonb — a single parameter,
 * no array-literal escaping on either side), and every write is a data-modifying CTE, so the
 * database does all of it in one round trip while ingest builds the fact records. The writes touch
 * disjoint rows, which is what makes running them as one statement safe; the distinct ids'
 * foreign key is deferred to the commit. An update never lets an older snapshot overwrite a newer.
 */
export async function applyFacts(
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
