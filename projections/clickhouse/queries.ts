import type { ClickHouse } from '../../ports/clickhouse.ts'

/** Persons as the API returns them, deduplicated: never a stale version or a deleted person. */
export interface PersonResult {
  id: string
  uuid: string
  distinct_ids: string[]
  properties: Record<string, unknown>
  is_identified: boolean
  created_at: string
}

export interface EventResult {
  id: string
  event: string
  distinct_id: string
  properties: Record<string, unknown>
  timestamp: string
  person_id: string
  /** PostHog's text form of the autocaptured elements, clicked one first; empty when none. */
  elements_chain: string
}

// PersonQuery: the latest version of each person and of each distinct id, deleted ones dropped.
const currentPersons = `
  SELECT id, argMax(properties, version) AS properties, argMax(is_identified, version) AS is_identified,
         argMax(created_at, version) AS created_at
  FROM person WHERE team_id = {team:Int64}
  GROUP BY id HAVING argMax(is_deleted, version) = 0`

const currentDistinctIds = `
  SELECT distinct_id, argMax(person_id, version) AS person_id
  FROM person_distinct_id2 WHERE team_id = {team:Int64}
  GROUP BY distinct_id HAVING argMax(is_deleted, version) = 0`

interface PersonRow {
  id: string
  properties: string
  is_identified: number
  created_at: string
  distinct_ids: string[]
}

async function queryPersons(
  ch: ClickHouse,
  where: string,
  params: Record<string, unknown>,
  page = 'LIMIT 1',
): Promise<PersonResult[]> {
  const rows = await ch.query<PersonRow>(
    `SELECT p.id AS id, p.properties AS properties, p.is_identified AS is_identified, p.created_at AS created_at,
            arraySort(groupArray(d.distinct_id)) AS distinct_ids
     FROM (${currentPersons}) AS p
     INNER JOIN (${currentDistinctIds}) AS d ON d.person_id = p.id
     WHERE ${where}
     GROUP BY p.id, p.properties, p.is_identified, p.created_at
     ORDER BY p.created_at DESC, p.id DESC
     ${page}`,
    params,
  )
  return rows.map((row) => ({
    id: row.id,
    uuid: row.id,
    distinct_ids: row.distinct_ids,
    properties: JSON.parse(row.properties) as Record<string, unknown>,
    is_identified: Number(row.is_identified) === 1,
    created_at: isoTime(row.created_at),
  }))
}

export function findPersons(
  ch: ClickHouse,
  query: { teamId: number; distinctId?: string; search?: string; limit: number; offset: number },
): Promise<PersonResult[]> {
  const conditions = ['1']
  const params: Record<string, unknown> = { team: query.teamId, limit: query.limit, offset: query.offset }
  if (query.distinctId !== undefined) {
    conditions.push(
      `p.id IN (SELECT person_id FROM (${currentDistinctIds}) WHERE distinct_id = {distinctId:String})`,
    )
    params.distinctId = query.distinctId
  }
  if (query.search !== undefined && query.search !== '') {
    // PostHog's search: email contains, or an exact distinct id, or an exact person uuid.
    conditions.push(`(positionCaseInsensitiveUTF8(JSONExtractString(p.properties, 'email'), {search:String}) > 0
      OR p.id IN (SELECT person_id FROM (${currentDistinctIds}) WHERE distinct_id = {search:String})
      OR toString(p.id) = {search:String})`)
    params.search = query.search
  }
  return queryPersons(ch, conditions.join(' AND '), params, 'LIMIT {limit:UInt32} OFFSET {offset:UInt32}')
}

export async function getPerson(
  ch: ClickHouse,
  teamId: number,
  uuid: string,
): Promise<PersonResult | undefined> {
  const [person] = await queryPersons(ch, 'p.id = {uuid:UUID}', { team: teamId, uuid })
  return person
}

export async function listEvents(
  ch: ClickHouse,
  query: {
    teamId: number
    distinctId?: string
    /** The events of every distinct id the person has now, those of persons merged into it included. */
    personId?: string
    event?: string
    after?: string
    before?: string
    limit: number
  },
): Promise<EventResult[]> {
  const conditions = ['team_id = {team:Int64}']
  const params: Record<string, unknown> = { team: query.teamId, limit: query.limit }
  if (query.distinctId !== undefined) {
    conditions.push('distinct_id = {distinctId:String}')
    params.distinctId = query.distinctId
  }
  if (query.personId !== undefined) {
    conditions.push(
      `distinct_id IN (SELECT distinct_id FROM (${currentDistinctIds}) WHERE person_id = {personId:UUID})`,
    )
    params.personId = query.personId
  }
  if (query.event !== undefined) {
    conditions.push('event = {event:String}')
    params.event = query.event
  }
  if (query.after !== undefined) {
    conditions.push('timestamp > parseDateTime64BestEffort({after:String}, 6)')
    params.after = query.after
  }
  if (query.before !== undefined) {
    conditions.push('timestamp < parseDateTime64BestEffort({before:String}, 6)')
    params.before = query.before
  }
  const rows = await ch.query<{
    uuid: string
    event: string
    distinct_id: string
    properties: string
    timestamp: string
    person_id: string
    elements_chain: string
  }>(
    `SELECT uuid, event, distinct_id, properties, timestamp, person_id, elements_chain FROM events
     WHERE ${conditions.join(' AND ')}
     ORDER BY timestamp DESC, uuid DESC
     LIMIT 1 BY uuid
     LIMIT {limit:UInt32}`,
    params,
  )
  return rows.map((row) => ({
    id: row.uuid,
    event: row.event,
    distinct_id: row.distinct_id,
    properties: JSON.parse(row.properties) as Record<string, unknown>,
    timestamp: isoTime(row.timestamp),
    person_id: row.person_id,
    elements_chain: row.elements_chain,
  }))
}

export async function listGroups(ch: ClickHouse, query: { teamId: number; groupTypeIndex?: number }) {
  const rows = await ch.query<{
    group_type_index: number
    group_key: string
    group_properties: string
    created_at: string
  }>(
    `SELECT group_type_index, group_key, argMax(group_properties, version) AS group_properties,
            argMax(created_at, version) AS created_at
     FROM groups WHERE team_id = {team:Int64} ${query.groupTypeIndex === undefined ? '' : 'AND group_type_index = {index:UInt8}'}
     GROUP BY group_type_index, group_key
     ORDER BY group_type_index, group_key`,
    { team: query.teamId, index: query.groupTypeIndex },
  )
  return rows.map((row) => ({
    group_type_index: Number(row.group_type_index),
    group_key: row.group_key,
    group_properties: JSON.parse(row.group_properties) as Record<string, unknown>,
    created_at: isoTime(row.created_at),
  }))
}

export async function listIngestionWarnings(ch: ClickHouse, query: { teamId: number; limit?: number }) {
  const rows = await ch.query<{ type: string; details: string; timestamp: string }>(
    `SELECT DISTINCT type, details, timestamp FROM ingestion_warnings WHERE team_id = {team:Int64}
     ORDER BY timestamp DESC LIMIT {limit:UInt32}`,
    { team: query.teamId, limit: query.limit ?? 1000 },
  )
  return rows.map((row) => ({
    type: row.type,
    details: JSON.parse(row.details) as unknown,
    timestamp: isoTime(row.timestamp),
  }))
}

/** ClickHouse's `2026-01-02 03:04:05.678000` (UTC) → `2026-01-02T03:04:05.678Z`. */
export function isoTime(clickhouseTime: string): string {
  const [date, time = '00:00:00'] = clickhouseTime.split(' ')
  const [seconds, fraction = ''] = time.split('.')
  return `${date}T${seconds}.${fraction.padEnd(3, '0').slice(0, 3)}Z`
}
