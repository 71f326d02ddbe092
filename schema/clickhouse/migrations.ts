/**
 * ClickHouse migrations, applied in order on start and recorded in `sluice_migrations`. The tables
 * are PostHog's for one server; `sluice clickhouse ddl` prints the
 * cluster and Kafka-engine variants. Never edit a released migration: add a new one.
 */
export interface ClickHouseMigration {
  version: number
  name: string
  statements: string[]
}

const kafkaColumns = `_timestamp DateTime, _offset UInt64, _partition UInt64`

export const eventsColumns = `
  uuid UUID,
  event String,
  properties String,
  timestamp DateTime64(6, 'UTC'),
  team_id Int64,
  project_id Int64,
  distinct_id String,
  elements_chain String,
  created_at DateTime64(6, 'UTC'),
  captured_at Nullable(DateTime64(6, 'UTC')),
  person_id UUID,
  person_properties String,
  person_created_at DateTime64(3, 'UTC'),
  person_mode Enum8('full' = 0, 'propertyless' = 1, 'force_upgrade' = 2),
  historical_migration Bool DEFAULT false,
  \`$group_0\` String MATERIALIZED JSONExtractString(properties, '$group_0'),
  \`$group_1\` String MATERIALIZED JSONExtractString(properties, '$group_1'),
  \`$group_2\` String MATERIALIZED JSONExtractString(properties, '$group_2'),
  \`$group_3\` String MATERIALIZED JSONExtractString(properties, '$group_3'),
  \`$group_4\` String MATERIALIZED JSONExtractString(properties, '$group_4'),
  \`$session_id\` String MATERIALIZED JSONExtractString(properties, '$session_id'),
  \`$window_id\` String MATERIALIZED JSONExtractString(properties, '$window_id'),
  ${kafkaColumns},
  inserted_at DateTime64(6, 'UTC') DEFAULT now64()`

export const personColumns = `
  id UUID,
  created_at DateTime64(3, 'UTC'),
  team_id Int64,
  properties String,
  is_identified Int8,
  is_deleted Int8 DEFAULT 0,
  version UInt64,
  ${kafkaColumns}`

export const distinctIdColumns = `
  team_id Int64,
  distinct_id String,
  person_id UUID,
  is_deleted Int8,
  version Int64 DEFAULT 1,
  ${kafkaColumns}`

export const groupColumns = `
  group_type_index UInt8,
  group_key String,
  created_at DateTime64(3, 'UTC'),
  team_id Int64,
  group_properties String,
  version Int64,
  ${kafkaColumns}`

export const personMergeColumns = `
  team_id Int64,
  kept_person_id UUID,
  merged_person_id UUID,
  distinct_ids Array(String),
  event_uuid UUID,
  event String,
  timestamp DateTime64(3, 'UTC'),
  ${kafkaColumns}`

export const ingestionWarningColumns = `
  team_id Int64,
  source LowCardinality(String),
  type String,
  details String,
  timestamp DateTime64(6, 'UTC'),
  ${kafkaColumns}`

/** Engine clauses per table; `engine` is swapped for its Replicated variant on a cluster. */
export const tableLayouts = {
  events: {
    columns: eventsColumns,
    engine: 'ReplacingMergeTree(_timestamp)',
    tail: `PARTITION BY toYYYYMM(timestamp)
      ORDER BY (team_id, toDate(timestamp), event, cityHash64(distinct_id), cityHash64(uuid))`,
  },
  person: { columns: personColumns, engine: 'ReplacingMergeTree(version)', tail: 'ORDER BY (team_id, id)' },
  person_distinct_id2: {
    columns: distinctIdColumns,
    engine: 'ReplacingMergeTree(version)',
    tail: 'ORDER BY (team_id, distinct_id) SETTINGS index_granularity = 512',
  },
  // PostHog versions groups by Kafka time; sluice's group facts carry a version, so redelivery and
  // replay collapse the same way whatever order they arrive in.
  groups: {
    columns: groupColumns,
    engine: 'ReplacingMergeTree(version)',
    tail: 'ORDER BY (team_id, group_type_index, group_key)',
  },
  person_merges: {
    columns: personMergeColumns,
    engine: 'ReplacingMergeTree(_timestamp)',
    tail: 'ORDER BY (team_id, kept_person_id, event_uuid, merged_person_id)',
  },
  ingestion_warnings: {
    columns: ingestionWarningColumns,
    engine: 'ReplacingMergeTree(_timestamp)',
    tail: `PARTITION BY toYYYYMMDD(timestamp)
      ORDER BY (team_id, toHour(timestamp), type, source, timestamp, cityHash64(details))`,
  },
} as const

export type ProjectedTable = keyof typeof tableLayouts

export function createTableStatement(
  table: ProjectedTable,
  name: string = table,
  engine: string = tableLayouts[table].engine,
): string {
  const layout = tableLayouts[table]
  return `CREATE TABLE IF NOT EXISTS ${name} (${layout.columns}\n) ENGINE = ${engine}\n${layout.tail}`
}

export const clickhouseMigrations: ClickHouseMigration[] = [
  {
    version: 1,
    name: 'events, person, person_distinct_id2, groups, person_merges, ingestion_warnings',
    statements: (Object.keys(tableLayouts) as ProjectedTable[]).map((table) => createTableStatement(table)),
  },
]
