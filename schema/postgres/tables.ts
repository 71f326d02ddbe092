import type { ColumnType, Generated } from 'kysely'
import type { AppConfig, AppLogLevel, AppVersionKey, RecordedAppFailure } from '../apps.ts'
import type { FlagFilters } from '../flags.ts'

/** Kysely's view of the Postgres projection (see migrations.ts). */
export interface PostgresTables {
  sluice_migrations: { version: number; name: string; applied_at: ColumnType<Date, never, never> }
  projects: {
    id: Generated<number>
    name: string
    api_token: string
    anonymize_ips: Generated<boolean>
    created_at: ColumnType<Date, never, never>
  }
  personal_api_keys: {
    id: Generated<number>
    /** SHA-256 of the key, hex: the key itself is shown once and never kept (migration 5). */
    key_sha256: string
    project_id: number
    created_at: ColumnType<Date, never, never>
  }
  persons: {
    uuid: string
    team_id: number
    created_at: ColumnType<Date, string, string>
    properties: ColumnType<Record<string, unknown>, string, string>
    is_identified: boolean
    version: number
  }
  person_distinct_ids: {
    team_id: number
    distinct_id: string
    person_uuid: string
    version: number
  }
  personless_distinct_ids: { team_id: number; distinct_id: string; is_merged: boolean }
  group_type_mappings: { team_id: number; group_type: string; group_type_index: number }
  groups: {
    team_id: number
    group_type_index: number
    group_key: string
    group_properties: ColumnType<Record<string, unknown>, string, string>
    created_at: ColumnType<Date, string, string>
    version: number
  }
  person_merges: {
    id: Generated<number>
    team_id: number
    kept_person_uuid: string
    merged_person_uuid: string
    distinct_ids: ColumnType<string[], string, string>
    event_uuid: string
    event: string
    timestamp: ColumnType<Date, string, string>
  }
  consumer_offsets: {
    group_id: string
    topic: string
    partition: number
    next_offset: number
  }
  ingest_batches: {
    seq: Generated<number>
    group_id: string
    topic: string
    partition: number
    first_offset: number
    next_offset: number
  }
  dead_letter_replays: {
    id: string
    replayed_at: Date
    replays: ColumnType<number, number | undefined, number>
  }
  feature_flags: {
    id: Generated<number>
    team_id: number
    key: string
    name: Generated<string>
    filters: ColumnType<FlagFilters, string, string>
    active: Generated<boolean>
    deleted: Generated<boolean>
    ensure_experience_continuity: Generated<boolean>
    version: Generated<number>
    created_at: ColumnType<Date, never, never>
    updated_at: ColumnType<Date, never, string>
  }
  feature_flag_hash_key_overrides: {
    team_id: number
    distinct_id: string
    feature_flag_key: string
    hash_key: string
  }
  apps: {
    id: Generated<number>
    team_id: number
    /** The current version (app_versions). */
    version: Generated<number>
    enabled: Generated<boolean>
    run_order: number
    deleted: Generated<boolean>
    created_at: ColumnType<Date, never, never>
    updated_at: ColumnType<Date, never, string>
  }
  app_versions: {
    app_id: number
    version: number
    name: string
    source: string
    config: ColumnType<AppConfig, string, string>
    created_at: ColumnType<Date, never, never>
  }
  app_runs: {
    seq: Generated<number>
    group_id: string
    topic: string
    partition: number
    first_offset: number
    next_offset: number
    runs: ColumnType<{ teamId: number; apps: AppVersionKey[] }[], string, string>
    failures: ColumnType<RecordedAppFailure[], string, string>
  }
  app_logs: {
    id: Generated<number>
    app_id: number
    team_id: number
    timestamp: ColumnType<Date, string, string>
    level: AppLogLevel
    message: string
    event_uuid: string | null
  }
  fact_outbox: {
    id: Generated<number>
    /** Entries written before migration 4. */
    records: string | null
    records_deflated: Uint8Array | null
    created_at: ColumnType<Date, never, never>
  }
}
