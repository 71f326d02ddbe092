/**
 * What the console reads of sluice's public query and admin API (the README's API section): only the
 * fields it shows. The console is a client of that API like any other and shares no code with the server.
 */

export interface Page<T> {
  results: T[]
}

export interface Project {
  id: number
  name: string
  api_token: string
}

export interface CapturedEvent {
  id: string
  event: string
  distinct_id: string
  properties: Record<string, unknown>
  timestamp: string
  person_id: string
  elements_chain: string
}

export interface Person {
  uuid: string
  distinct_ids: string[]
  properties: Record<string, unknown>
  is_identified: boolean
  created_at: string
}

export interface Merge {
  kept_person_uuid: string
  merged_person_uuid: string
  distinct_ids: string[]
  event_uuid: string
  event: string
  timestamp: string
}

export interface LastError {
  code: string
  message: string | null
  at: string
}

export interface ConsumerState {
  group: string
  topic: string
  partition: number | null
  end_offset: number | null
  committed_offset: number | null
  lag: number | null
  failures: number
  failing_since: string | null
  last_error: LastError | null
  stuck: boolean
}

export interface IngestionStatus {
  roles: string[] | null
  backends: { log: string; postgres: string; clickhouse: string }
  consumers: ConsumerState[]
  dead_letters: {
    total: number
    not_replayed: number
    by_reason: { step: string; code: string; count: number; not_replayed: number }[]
  }
  stuck: boolean
}

export interface DeadLetter {
  id: string
  step: string
  code: string | null
  reason: string
  event_uuid: string | null
  event: string | null
  distinct_id: string | null
  created_at: string
  replayed_at: string | null
}

export interface IngestionWarning {
  type: string
  details: unknown
  timestamp: string
}

/** PostHog's flag `filters`: the console edits them as JSON and reads a little of them for a summary. */
export interface FlagFilters {
  groups?: {
    properties?: unknown[]
    rollout_percentage?: number | null
    variant?: string | null
  }[]
  multivariate?: { variants: { key: string; rollout_percentage: number }[] } | null
  aggregation_group_type_index?: number | null
  [other: string]: unknown
}

export interface Flag {
  id: number
  key: string
  name: string
  filters: FlagFilters
  active: boolean
}

export interface App {
  id: number
  name: string
  source: string
  config: Record<string, unknown>
  enabled: boolean
  order: number
  version: number
}

export interface AppLogEntry {
  timestamp: string
  level: 'log' | 'info' | 'warn' | 'error'
  message: string
  event_uuid: string | null
}
