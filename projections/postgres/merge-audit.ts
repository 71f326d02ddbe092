import { type Kysely, sql } from 'kysely'
import type { PostgresTables } from '../../schema/postgres/tables.ts'

export interface MergeAuditEntry {
  kept_person_uuid: string
  merged_person_uuid: string
  distinct_ids: string[]
  event_uuid: string
  event: string
  timestamp: string
}

/**
 * Every merge that shaped a person, oldest first: merges into it, and merges into persons that were
 * later merged into it (followed transitively), from the authoritative audit in Postgres.
 */
export async function mergesThatShaped(
  db: Kysely<PostgresTables>,
  teamId: number,
  personUuid: string,
): Promise<MergeAuditEntry[]> {
  const result = await sql<{
    kept_person_uuid: string
    merged_person_uuid: string
    distinct_ids: string[]
    event_uuid: string
    event: string
    timestamp: Date
  }>`WITH RECURSIVE shaped (uuid) AS (
      SELECT ${personUuid}::uuid
      UNION
      SELECT m.merged_person_uuid FROM person_merges m JOIN shaped s ON m.kept_person_uuid = s.uuid
      WHERE m.team_id = ${teamId}
    )
    SELECT m.kept_person_uuid, m.merged_person_uuid, m.distinct_ids, m.event_uuid, m.event, m.timestamp
    FROM person_merges m JOIN shaped s ON m.kept_person_uuid = s.uuid
    WHERE m.team_id = ${teamId}
    ORDER BY m.timestamp, m.id`.execute(db)
  return result.rows.map((row) => ({ ...row, timestamp: row.timestamp.toISOString() }))
}
