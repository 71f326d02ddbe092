/**
 * Messages on the fact topics. Each is one JSONEachRow row of its ClickHouse table, shaped as
 * PostHog's ingestion produces them, so a ClickHouse Kafka engine
 * table can read the topics directly. Times are UTC `YYYY-MM-DD HH:MM:SS[.mmm]`.
 */
export type PersonMode = 'full' | 'propertyless' | 'force_upgrade'

export interface EventRow {
  uuid: string
  event: string
  properties: string
  timestamp: string
  team_id: number
  project_id: number
  distinct_id: string
  elements_chain: string
  created_at: string
  captured_at: string | null
  person_id: string
  person_properties: string
  person_created_at: string
  person_mode: PersonMode
  historical_migration?: boolean
}

export interface PersonRow {
  id: string
  created_at: string
  properties: string
  team_id: number
  is_identified: 0 | 1
  is_deleted: 0 | 1
  version: number
}

export interface PersonDistinctIdRow {
  person_id: string
  team_id: number
  distinct_id: string
  version: number
  is_deleted: 0 | 1
}

export interface GroupRow {
  group_type_index: number
  group_key: string
  team_id: number
  group_properties: string
  created_at: string
  version: number
}

export interface PersonMergeRow {
  team_id: number
  kept_person_id: string
  merged_person_id: string
  distinct_ids: string[]
  event_uuid: string
  event: string
  timestamp: string
}

export interface IngestionWarningRow {
  team_id: number
  source: string
  type: string
  details: string
  timestamp: string
}
