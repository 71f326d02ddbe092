import { type RawBuilder, sql, type Transaction } from 'kysely'
import { type Fact, type PersonSnapshot, unhandledFact } from '../../schema/facts.ts'
import { groupIdentityKey, identityKey } from '../../schema/identity-keys.ts'
import type { PostgresTables } from '../../schema/postgres/tables.ts'
import { partition } from './collections.ts'
import type { IdentityChanges } from './identity-cache.ts'
import { type Columns, columnNames, recordset } from './recordset.ts'

type Tx = Transaction<PostgresTables>

/**
 * Rows that `load` did not find are created with a plain INSERT: if another process created them
 * meanwhile, the unique violation sends the whole batch round again on fresh state instead of
 * silently overwriting that process's work.
 */
export interface Loaded {
  /** By uuid. */
  persons: Set<string>
  /** The rest by identityKey / groupIdentityKey (schema/identity-keys.ts). */
  distinctIds: Set<string>
  groups: Set<string>
  /** Distinct ids personless events used that no person held yet. */
  unmergedPersonless: Set<string>
}

/**
 * Applies a batch's facts set-based, in one statement: the last fact per row decides its final
 * state, each table's rows go in as one JSON document read as a record set with named columns
 * (recordset.ts: one parameter, parsed once, no array-literal escaping on either side), and every
 * write is a data-modifying CTE, so the database does all of it in one round trip while ingest
 * builds the fact records. The writes touch
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
  const distinctIds = new Map<string, DistinctIdFact>()
  const personless = new Map<string, Extract<Fact, { type: 'personless_distinct_id_seen' }>>()
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
        distinctIds.set(identityKey(fact.teamId, fact.distinctId), fact)
        break
      case 'personless_distinct_id_seen':
        personless.set(identityKey(fact.teamId, fact.distinctId), fact)
        break
      case 'group_type_assigned':
        groupTypes.push(fact)
        break
      case 'group_updated':
        groups.set(groupIdentityKey(fact.teamId, fact.groupTypeIndex, fact.groupKey), fact)
        break
      case 'persons_merged':
        merges.push(fact)
        break
      case 'ingestion_warning':
      case 'event_ingested':
        break
      default:
        unhandledFact(fact)
    }
  }

  const writes: RawBuilder<unknown>[] = []
  const write = <Row extends object>(
    rows: readonly Row[],
    columns: Columns<Row>,
    statement: (rows: RawBuilder<unknown>, names: RawBuilder<unknown>) => RawBuilder<unknown>,
  ) => {
    if (rows.length > 0) writes.push(statement(recordset(rows, columns), columnNames(columns, 'r.')))
  }

  const snapshots = [...persons.values()].filter((p): p is PersonSnapshot => p !== 'deleted')
  const [updatedPersons, createdPersons] = partition(snapshots, (p) => loaded.persons.has(p.uuid))
  const insertPersons = (rows: RawBuilder<unknown>, names: RawBuilder<unknown>) =>
    sql`INSERT INTO persons (${columnNames(personColumns)}) SELECT ${names} FROM ${rows}`
  write(createdPersons.map(personRow), personColumns, insertPersons)
  write(
    updatedPersons.map(personRow),
    personColumns,
    (rows, names) => sql`${insertPersons(rows, names)} ON CONFLICT (uuid) DO UPDATE SET
      created_at = excluded.created_at, properties = excluded.properties,
      is_identified = excluded.is_identified, version = excluded.version
      WHERE persons.version <= excluded.version`,
  )

  const [movedIds, addedIds] = partition([...distinctIds.values()], (d) =>
    loaded.distinctIds.has(identityKey(d.teamId, d.distinctId)),
  )
  const insertIds = (rows: RawBuilder<unknown>, names: RawBuilder<unknown>) =>
    sql`INSERT INTO person_distinct_ids (${columnNames(distinctIdColumns)}) SELECT ${names} FROM ${rows}`
  write(addedIds.map(distinctIdRow), distinctIdColumns, insertIds)
  write(
    movedIds.map(distinctIdRow),
    distinctIdColumns,
    (rows, names) => sql`${insertIds(rows, names)} ON CONFLICT (team_id, distinct_id) DO UPDATE SET
      person_uuid = excluded.person_uuid, version = excluded.version
      WHERE person_distinct_ids.version <= excluded.version`,
  )
  // ids personless events used that now have a person
  write(
    [...distinctIds.values()]
      .filter((d) => loaded.unmergedPersonless.has(identityKey(d.teamId, d.distinctId)))
      .map((d) => ({ team_id: d.teamId, distinct_id: d.distinctId })),
    idColumns,
    (rows) => sql`UPDATE personless_distinct_ids AS p SET is_merged = true FROM ${rows}
      WHERE p.team_id = r.team_id AND p.distinct_id = r.distinct_id AND NOT p.is_merged`,
  )
  write(
    [...persons].filter(([, p]) => p === 'deleted').map(([uuid]) => ({ uuid })),
    { uuid: 'uuid' },
    (rows) => sql`DELETE FROM persons WHERE uuid IN (SELECT r.uuid FROM ${rows})`,
  )
  write(
    // seen personless, and merged if given a person within this very batch
    [...personless.entries()].map(([key, p]) => ({
      team_id: p.teamId,
      distinct_id: p.distinctId,
      is_merged: distinctIds.has(key),
    })),
    { ...idColumns, is_merged: 'boolean' },
    (rows, names) => sql`INSERT INTO personless_distinct_ids (team_id, distinct_id, is_merged)
      SELECT ${names} FROM ${rows} ON CONFLICT (team_id, distinct_id) DO NOTHING`,
  )
  write(
    groupTypes.map((t) => ({
      team_id: t.teamId,
      group_type: t.groupType,
      group_type_index: t.groupTypeIndex,
    })),
    { team_id: 'integer', group_type: 'text', group_type_index: 'smallint' },
    (rows, names) => sql`INSERT INTO group_type_mappings (team_id, group_type, group_type_index)
      SELECT ${names} FROM ${rows} ON CONFLICT DO NOTHING`,
  )
  const [updatedGroups, createdGroups] = partition([...groups.values()], (g) =>
    loaded.groups.has(groupIdentityKey(g.teamId, g.groupTypeIndex, g.groupKey)),
  )
  const insertGroups = (rows: RawBuilder<unknown>, names: RawBuilder<unknown>) =>
    sql`INSERT INTO groups (${columnNames(groupColumns)}) SELECT ${names} FROM ${rows}`
  write(createdGroups.map(groupRow), groupColumns, insertGroups)
  write(
    updatedGroups.map(groupRow),
    groupColumns,
    (
      rows,
      names,
    ) => sql`${insertGroups(rows, names)} ON CONFLICT (team_id, group_type_index, group_key) DO UPDATE SET
      group_properties = excluded.group_properties, created_at = excluded.created_at, version = excluded.version
      WHERE groups.version <= excluded.version`,
  )
  write(
    merges.map((m) => ({
      team_id: m.teamId,
      kept_person_uuid: m.keptPersonUuid,
      merged_person_uuid: m.mergedPersonUuid,
      distinct_ids: m.distinctIds,
      event_uuid: m.eventUuid,
      event: m.event,
      timestamp: m.timestamp,
    })),
    mergeColumns,
    (rows, names) => sql`INSERT INTO person_merges (${columnNames(mergeColumns)})
      SELECT ${names} FROM ${rows} ON CONFLICT (event_uuid, merged_person_uuid) DO NOTHING`,
  )

  if (writes.length === 0) return
  const ctes = writes.map((statement, i) => sql`${sql.raw(`write_${i}`)} AS (${statement})`)
  await sql`WITH ${sql.join(ctes)} SELECT 1`.execute(tx)
  changes.persons.push(...snapshots)
  for (const [uuid, person] of persons) if (person === 'deleted') changes.deletedPersons.push(uuid)
  changes.distinctIds.push(...distinctIds.values())
}

type DistinctIdFact = Extract<Fact, { type: 'distinct_id_assigned' }>

// Each table's columns as ingest writes them; a row type and its column types come together.
interface PersonRow {
  uuid: string
  team_id: number
  created_at: string
  properties: Record<string, unknown>
  is_identified: boolean
  version: number
}
const personColumns: Columns<PersonRow> = {
  uuid: 'uuid',
  team_id: 'integer',
  created_at: 'timestamptz',
  properties: 'jsonb',
  is_identified: 'boolean',
  version: 'bigint',
}
const personRow = (p: PersonSnapshot): PersonRow => ({
  uuid: p.uuid,
  team_id: p.teamId,
  created_at: p.createdAt,
  properties: p.properties,
  is_identified: p.isIdentified,
  version: p.version,
})

interface DistinctIdRow {
  team_id: number
  distinct_id: string
  person_uuid: string
  version: number
}
const distinctIdColumns: Columns<DistinctIdRow> = {
  team_id: 'integer',
  distinct_id: 'text',
  person_uuid: 'uuid',
  version: 'bigint',
}
const distinctIdRow = (d: DistinctIdFact): DistinctIdRow => ({
  team_id: d.teamId,
  distinct_id: d.distinctId,
  person_uuid: d.personUuid,
  version: d.version,
})
const idColumns: Columns<{ team_id: number; distinct_id: string }> = {
  team_id: 'integer',
  distinct_id: 'text',
}

interface GroupRow {
  team_id: number
  group_type_index: number
  group_key: string
  group_properties: Record<string, unknown>
  created_at: string
  version: number
}
const groupColumns: Columns<GroupRow> = {
  team_id: 'integer',
  group_type_index: 'smallint',
  group_key: 'text',
  group_properties: 'jsonb',
  created_at: 'timestamptz',
  version: 'bigint',
}
const groupRow = (g: Extract<Fact, { type: 'group_updated' }>): GroupRow => ({
  team_id: g.teamId,
  group_type_index: g.groupTypeIndex,
  group_key: g.groupKey,
  group_properties: g.properties,
  created_at: g.createdAt,
  version: g.version,
})

const mergeColumns: Columns<{
  team_id: number
  kept_person_uuid: string
  merged_person_uuid: string
  distinct_ids: string[]
  event_uuid: string
  event: string
  timestamp: string
}> = {
  team_id: 'integer',
  kept_person_uuid: 'uuid',
  merged_person_uuid: 'uuid',
  distinct_ids: 'jsonb',
  event_uuid: 'uuid',
  event: 'text',
  timestamp: 'timestamptz',
}
