import { type Kysely, sql } from 'kysely'
import type { ClickHouse } from '../../ports/clickhouse.ts'
import type { PostgresTables } from '../../schema/postgres/tables.ts'

export interface Difference {
  kind: 'person' | 'distinct_id' | 'group'
  key: string
  problem: 'missing in ClickHouse' | 'only in ClickHouse' | 'differs'
  postgres?: unknown
  clickhouse?: unknown
}

export interface VerifyReport {
  persons: number
  distinctIds: number
  groups: number
  differences: Difference[]
}

type Row = Record<string, unknown>

/**
 * Compares what ClickHouse shows (deduplicated as every query sees it) with the authoritative
 * Postgres projection: persons, distinct ids and groups, field by field.
 */
export async function verifyProjections(db: Kysely<PostgresTables>, ch: ClickHouse): Promise<VerifyReport> {
  const [pgPersons, chPersons, pgIds, chIds, pgGroups, chGroups] = await Promise.all([
    sql<Row>`SELECT team_id, uuid::text AS uuid, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at,
      properties::text AS properties, is_identified, version FROM persons`
      .execute(db)
      .then((r) => r.rows),
    ch.query<Row>(`SELECT team_id, toString(id) AS uuid, argMax(created_at, version) AS created_at,
      argMax(properties, version) AS properties, argMax(is_identified, version) AS is_identified, max(version) AS latest_version
      FROM person GROUP BY team_id, id HAVING argMax(is_deleted, version) = 0`),
    sql<Row>`SELECT team_id, distinct_id, person_uuid::text AS person_uuid, version FROM person_distinct_ids`
      .execute(db)
      .then((r) => r.rows),
    ch.query<Row>(`SELECT team_id, distinct_id, toString(argMax(person_id, version)) AS person_uuid, max(version) AS latest_version
      FROM person_distinct_id2 GROUP BY team_id, distinct_id HAVING argMax(is_deleted, version) = 0`),
    sql<Row>`SELECT team_id, group_type_index, group_key, group_properties::text AS properties, version FROM groups`
      .execute(db)
      .then((r) => r.rows),
    ch.query<Row>(`SELECT team_id, group_type_index, group_key, argMax(group_properties, version) AS properties, max(version) AS latest_version
      FROM groups GROUP BY team_id, group_type_index, group_key`),
  ])
  const differences = [
    ...compare(
      'person',
      pgPersons.map(normalisePerson),
      chPersons.map(normalisePerson),
      (r) => `${r.team_id}/${r.uuid}`,
    ),
    ...compare(
      'distinct_id',
      pgIds.map(normaliseNumbers),
      chIds.map(normaliseNumbers),
      (r) => `${r.team_id}/${r.distinct_id}`,
    ),
    ...compare(
      'group',
      pgGroups.map(normaliseGroup),
      chGroups.map(normaliseGroup),
      (r) => `${r.team_id}/${r.group_type_index}/${r.group_key}`,
    ),
  ]
  return { persons: pgPersons.length, distinctIds: pgIds.length, groups: pgGroups.length, differences }
}

function compare(
  kind: Difference['kind'],
  postgres: Row[],
  clickhouse: Row[],
  keyOf: (row: Row) => string,
): Difference[] {
  const differences: Difference[] = []
  const inClickHouse = new Map(clickhouse.map((row) => [keyOf(row), row]))
  for (const row of postgres) {
    const key = keyOf(row)
    const other = inClickHouse.get(key)
    inClickHouse.delete(key)
    if (other === undefined) differences.push({ kind, key, problem: 'missing in ClickHouse', postgres: row })
    else if (canonical(row) !== canonical(other))
      differences.push({ kind, key, problem: 'differs', postgres: row, clickhouse: other })
  }
  for (const [key, row] of inClickHouse)
    differences.push({ kind, key, problem: 'only in ClickHouse', clickhouse: row })
  return differences
}

function normaliseNumbers(row: Row): Row {
  const result: Row = {}
  for (const [name, value] of Object.entries(row)) {
    // ClickHouse rejects an alias that shadows the column its argMax() calls read.
    const key = name === 'latest_version' ? 'version' : name
    result[key] =
      typeof value === 'string' && /^-?\d+$/.test(value) && key !== 'distinct_id' && key !== 'group_key'
        ? Number(value)
        : value
  }
  return result
}

function normalisePerson(row: Row): Row {
  const normalised = normaliseNumbers(row)
  return {
    ...normalised,
    is_identified: normalised.is_identified === true || normalised.is_identified === 1,
    created_at: isoMillis(String(normalised.created_at)),
    properties: JSON.parse(String(normalised.properties)),
  }
}

function normaliseGroup(row: Row): Row {
  const normalised = normaliseNumbers(row)
  return { ...normalised, properties: JSON.parse(String(normalised.properties)) }
}

/** Both `2026-01-01T00:00:00.000Z` and ClickHouse's `2026-01-01 00:00:00.000` → the former. */
function isoMillis(text: string): string {
  const [date, time = ''] = text.replace('T', ' ').replace('Z', '').split(' ')
  const [seconds, fraction = ''] = time.split('.')
  return `${date}T${seconds}.${fraction.padEnd(3, '0').slice(0, 3)}Z`
}

/** JSON with object keys sorted, so key order never counts as a difference. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Row).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  )
}
