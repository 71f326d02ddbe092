import {
  createTableStatement,
  type ProjectedTable,
  tableLayouts,
} from '../../schema/clickhouse/migrations.ts'
import { Topics } from '../../schema/topics.ts'

export interface DdlOptions {
  /** A ClickHouse cluster name: replicated person tables on every node, events sharded. */
  cluster?: string
  /** Kafka brokers: ClickHouse reads the fact topics itself through Kafka engine tables. */
  kafkaBrokers?: string
}

// Topic each table is fed from, and the fields of its messages (schema/clickhouse-rows.ts).
const feeds: Record<ProjectedTable, { topic: string; columns: string }> = {
  events: {
    topic: Topics.events,
    columns: `uuid UUID, event String, properties String, timestamp DateTime64(6, 'UTC'), team_id Int64, project_id Int64,
    distinct_id String, elements_chain String, created_at DateTime64(6, 'UTC'), captured_at Nullable(DateTime64(6, 'UTC')),
    person_id UUID, person_properties String, person_created_at DateTime64(3, 'UTC'),
    person_mode Enum8('full' = 0, 'propertyless' = 1, 'force_upgrade' = 2), historical_migration Bool`,
  },
  person: {
    topic: Topics.persons,
    columns: `id UUID, created_at DateTime64(3, 'UTC'), team_id Int64, properties String, is_identified Int8, is_deleted Int8, version UInt64`,
  },
  person_distinct_id2: {
    topic: Topics.distinctIds,
    columns: 'team_id Int64, distinct_id String, person_id UUID, is_deleted Int8, version Int64',
  },
  groups: {
    topic: Topics.groups,
    columns: `group_type_index UInt8, group_key String, created_at DateTime64(3, 'UTC'), team_id Int64, group_properties String, version Int64`,
  },
  person_merges: {
    topic: Topics.personMerges,
    columns: `team_id Int64, kept_person_id UUID, merged_person_id UUID, distinct_ids Array(String), event_uuid UUID, event String,
    timestamp DateTime64(3, 'UTC')`,
  },
  ingestion_warnings: {
    topic: Topics.ingestionWarnings,
    columns: `team_id Int64, source LowCardinality(String), type String, details String, timestamp DateTime64(6, 'UTC')`,
  },
}

// Large, append-mostly tables are sharded; person-like tables every node needs for joins are replicated whole.
const sharded: Partial<Record<ProjectedTable, string>> = {
  events: 'sipHash64(distinct_id)',
  ingestion_warnings: 'rand()',
}

/** The ClickHouse DDL for a single server, a cluster, and/or Kafka engine ingestion, as SQL text. */
export function clickhouseDdl(options: DdlOptions = {}): string {
  const statements: string[] = []
  const onCluster = options.cluster ? ` ON CLUSTER ${quoteIdentifier(options.cluster)}` : ''
  for (const table of Object.keys(tableLayouts) as ProjectedTable[]) {
    const layout = tableLayouts[table]
    if (!options.cluster) {
      statements.push(createTableStatement(table))
    } else if (sharded[table]) {
      const local = `sharded_${table}`
      statements.push(
        createTableStatement(
          table,
          `${local}${onCluster}`,
          replicated(layout.engine, `/clickhouse/tables/{shard}/sluice.${local}`),
        ),
        `CREATE TABLE IF NOT EXISTS ${table}${onCluster} AS ${local}\nENGINE = Distributed(${quoteString(options.cluster)}, currentDatabase(), ${local}, ${sharded[table]})`,
      )
    } else {
      statements.push(
        createTableStatement(
          table,
          `${table}${onCluster}`,
          replicated(layout.engine, `/clickhouse/tables/noshard/sluice.${table}`),
        ),
      )
    }
    if (options.kafkaBrokers) {
      const feed = feeds[table]
      statements.push(
        `CREATE TABLE IF NOT EXISTS kafka_${table}${onCluster} (\n  ${feed.columns}\n) ENGINE = Kafka(${quoteString(options.kafkaBrokers)}, ${quoteString(feed.topic)}, ${quoteString(`clickhouse_${table}`)}, 'JSONEachRow')\nSETTINGS kafka_skip_broken_messages = 100`,
        `CREATE MATERIALIZED VIEW IF NOT EXISTS ${table}_mv${onCluster} TO ${table}\nAS SELECT ${columnNames(feed.columns).join(', ')}, _timestamp, _offset, _partition FROM kafka_${table}`,
      )
    }
  }
  return `${statements.join(';\n\n')};\n`
}

/** `ReplacingMergeTree(version)` → `ReplicatedReplacingMergeTree('<path>', '{replica}', version)`. */
function replicated(engine: string, zooKeeperPath: string): string {
  const match = /^(\w+)\((.*)\)$/.exec(engine)
  const [name, args] = match ? [match[1]!, match[2]!] : [engine, '']
  return `Replicated${name}(${quoteString(zooKeeperPath)}, '{replica}'${args ? `, ${args}` : ''})`
}

function columnNames(columns: string): string[] {
  return columns
    .split(',')
    .map((c) => c.trim().split(/\s+/)[0]!)
    .filter((name) => /^[a-z_]+$/.test(name))
}

const quoteString = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
const quoteIdentifier = (value: string) =>
  /^[A-Za-z_][A-Za-z0-9_]*$/.test(value) ? value : `\`${value.replace(/`/g, '\\`')}\``
