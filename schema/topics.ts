/** Topic names shared by every log adapter (embedded and Kafka), as PostHog names them. */
export const Topics = {
  /** What capture accepted, one record per request (schema/capture-request.ts); split into `commands`. */
  captureRequests: 'capture_requests',
  commands: 'events_plugin_ingestion',
  events: 'clickhouse_events_json',
  persons: 'clickhouse_person',
  distinctIds: 'clickhouse_person_distinct_id',
  groups: 'clickhouse_groups',
  personMerges: 'person_merges',
  ingestionWarnings: 'clickhouse_ingestion_warnings',
  deadLetters: 'dead_letter_queue',
} as const

export type TopicName = (typeof Topics)[keyof typeof Topics]

/** Topics the ClickHouse projector reads; each maps to one table. */
export const factTopics = [
  Topics.events,
  Topics.persons,
  Topics.distinctIds,
  Topics.groups,
  Topics.personMerges,
  Topics.ingestionWarnings,
] as const

export type FactTopic = (typeof factTopics)[number]

/** The consumer groups of an installation, and what each reads. */
export const ConsumerGroups = {
  split: 'split',
  ingest: 'ingest',
  projector: 'clickhouse-projector',
} as const

export type ConsumerGroup = (typeof ConsumerGroups)[keyof typeof ConsumerGroups]

export const topicsOfGroup: Record<ConsumerGroup, readonly TopicName[]> = {
  [ConsumerGroups.split]: [Topics.captureRequests],
  [ConsumerGroups.ingest]: [Topics.commands],
  [ConsumerGroups.projector]: factTopics,
}
