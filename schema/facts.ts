import type { PersonMode } from './clickhouse-rows.ts'

/**
 * Facts: what ingestion decided, the only thing projections apply. Person and group facts carry
 * the full new state of their row (not a diff), so applying a fact is an idempotent upsert and a
 * higher version always wins. Times are ISO 8601 UTC strings with milliseconds.
 */
export type Properties = Record<string, unknown>

export interface PersonSnapshot {
  teamId: number
  uuid: string
  createdAt: string
  properties: Properties
  isIdentified: boolean
  version: number
}

export type Fact =
  | ({ type: 'person_created' } & PersonSnapshot)
  | ({ type: 'person_updated' } & PersonSnapshot)
  /** The person row is gone (absorbed by a merge); `version` is the delete's version. */
  | { type: 'person_deleted'; teamId: number; uuid: string; version: number }
  | { type: 'distinct_id_assigned'; teamId: number; distinctId: string; personUuid: string; version: number }
  /** A distinct id was used by a personless event before any person held it. */
  | { type: 'personless_distinct_id_seen'; teamId: number; distinctId: string }
  | {
      type: 'persons_merged'
      teamId: number
      keptPersonUuid: string
      mergedPersonUuid: string
      distinctIds: string[]
      eventUuid: string
      event: string
      timestamp: string
    }
  | { type: 'group_type_assigned'; teamId: number; groupType: string; groupTypeIndex: number }
  | {
      type: 'group_updated'
      teamId: number
      groupTypeIndex: number
      groupKey: string
      properties: Properties
      createdAt: string
      version: number
    }
  | { type: 'ingestion_warning'; teamId: number; warningType: string; details: Properties; timestamp: string }
  | { type: 'event_ingested'; event: IngestedEvent }

/** The enriched event, as it goes to ClickHouse's events table. */
export interface IngestedEvent {
  uuid: string
  event: string
  teamId: number
  distinctId: string
  properties: Properties
  timestamp: string
  elementsChain: string
  createdAt: string
  capturedAt: string | null
  personId: string
  personProperties: Properties
  personCreatedAt: string
  personMode: PersonMode
  historicalMigration: boolean
}

export type FactType = Fact['type']

/**
 * Ends every switch over fact types: a fact type added to `Fact` and not handled there fails to
 * compile, and, should one arrive at run time anyway, it fails loudly instead of being skipped.
 */
export function unhandledFact(fact: never): never {
  throw new Error(`no case for the fact ${JSON.stringify(fact)}`)
}
