import type { OutboxRecord } from '../../ports/identity-store.ts'
import type {
  EventRow,
  GroupRow,
  IngestionWarningRow,
  PersonDistinctIdRow,
  PersonMergeRow,
  PersonRow,
} from '../../schema/clickhouse-rows.ts'
import { type Fact, unhandledFact } from '../../schema/facts.ts'
import { identityKey } from '../../schema/identity-keys.ts'
import { Topics } from '../../schema/topics.ts'

// an event's times, and the events of one request, mostly share a value: the last one is kept
let lastIso = ''
let lastTime = ''

/** `2026-01-02T03:04:05.678Z` → `2026-01-02 03:04:05.678` (or without ms), as ClickHouse reads it. */
export function clickHouseTime(iso: string, withMilliseconds = true): string {
  if (withMilliseconds && iso === lastIso) return lastTime
  const time = formatClickHouseTime(iso, withMilliseconds)
  if (withMilliseconds) {
    lastIso = iso
    lastTime = time
  }
  return time
}

function formatClickHouseTime(iso: string, withMilliseconds: boolean): string {
  // the shape toISOString gives, which is nearly every time ingest sees
  if (iso.length === 24 && iso[10] === 'T' && iso[19] === '.' && iso[23] === 'Z')
    return withMilliseconds
      ? `${iso.slice(0, 10)} ${iso.slice(11, 23)}`
      : `${iso.slice(0, 10)} ${iso.slice(11, 19)}`
  const [date = '', time = ''] = iso.split('T')
  const clock = time.replace(/Z$|[+-]\d\d:?\d\d$/, '')
  const [seconds = '00:00:00', fraction = ''] = clock.split('.')
  return withMilliseconds ? `${date} ${seconds}.${fraction.padEnd(3, '0').slice(0, 3)}` : `${date} ${seconds}`
}

/**
 * The fact-topic messages (PostHog's shapes) that carry a batch's facts to ClickHouse. A person or
 * a distinct id changed several times in one batch goes out once, in its last state: ClickHouse
 * keeps only the highest version of a row, so the earlier ones would be written only to be dropped.
 */
export function factRecords(facts: readonly Fact[]): OutboxRecord[] {
  const records: OutboxRecord[] = []
  const lastChange = new Map<string, Fact>()
  for (const fact of facts) {
    if (fact.type === 'person_created' || fact.type === 'person_updated' || fact.type === 'person_deleted')
      lastChange.set(fact.uuid, fact)
    else if (fact.type === 'distinct_id_assigned')
      lastChange.set(identityKey(fact.teamId, fact.distinctId), fact)
  }
  const isLast = (key: string, fact: Fact) => lastChange.get(key) === fact
  // An event's person properties are the very object its person's snapshot holds: encode it once.
  const encoded = new WeakMap<object, string>()
  const encode = (properties: Record<string, unknown>) => {
    let json = encoded.get(properties)
    if (json === undefined) {
      json = JSON.stringify(properties)
      encoded.set(properties, json)
    }
    return json
  }
  for (const fact of facts) {
    switch (fact.type) {
      case 'person_created':
      case 'person_updated': {
        if (!isLast(fact.uuid, fact)) break
        const row: PersonRow = {
          id: fact.uuid,
          created_at: clickHouseTime(fact.createdAt),
          properties: encode(fact.properties),
          team_id: fact.teamId,
          is_identified: fact.isIdentified ? 1 : 0,
          is_deleted: 0,
          version: fact.version,
        }
        records.push({ topic: Topics.persons, key: fact.uuid, value: JSON.stringify(row) })
        break
      }
      case 'person_deleted': {
        if (!isLast(fact.uuid, fact)) break
        const row: PersonRow = {
          id: fact.uuid,
          created_at: '1970-01-01 00:00:00.000',
          properties: '{}',
          team_id: fact.teamId,
          is_identified: 0,
          is_deleted: 1,
          version: fact.version,
        }
        records.push({ topic: Topics.persons, key: fact.uuid, value: JSON.stringify(row) })
        break
      }
      case 'distinct_id_assigned': {
        if (!isLast(identityKey(fact.teamId, fact.distinctId), fact)) break
        const row: PersonDistinctIdRow = {
          person_id: fact.personUuid,
          team_id: fact.teamId,
          distinct_id: fact.distinctId,
          version: fact.version,
          is_deleted: 0,
        }
        records.push({ topic: Topics.distinctIds, key: fact.distinctId, value: JSON.stringify(row) })
        break
      }
      case 'group_updated': {
        const row: GroupRow = {
          group_type_index: fact.groupTypeIndex,
          group_key: fact.groupKey,
          team_id: fact.teamId,
          group_properties: JSON.stringify(fact.properties),
          created_at: clickHouseTime(fact.createdAt),
          version: fact.version,
        }
        records.push({
          topic: Topics.groups,
          key: `${fact.groupTypeIndex}:${fact.groupKey}`,
          value: JSON.stringify(row),
        })
        break
      }
      case 'persons_merged': {
        const row: PersonMergeRow = {
          team_id: fact.teamId,
          kept_person_id: fact.keptPersonUuid,
          merged_person_id: fact.mergedPersonUuid,
          distinct_ids: fact.distinctIds,
          event_uuid: fact.eventUuid,
          event: fact.event,
          timestamp: clickHouseTime(fact.timestamp),
        }
        records.push({ topic: Topics.personMerges, key: fact.keptPersonUuid, value: JSON.stringify(row) })
        break
      }
      case 'ingestion_warning': {
        const row: IngestionWarningRow = {
          team_id: fact.teamId,
          source: 'sluice',
          type: fact.warningType,
          details: JSON.stringify(fact.details),
          timestamp: clickHouseTime(fact.timestamp),
        }
        records.push({ topic: Topics.ingestionWarnings, key: null, value: JSON.stringify(row) })
        break
      }
      case 'event_ingested': {
        const e = fact.event
        const row: EventRow = {
          uuid: e.uuid,
          event: e.event,
          properties: JSON.stringify(e.properties),
          timestamp: clickHouseTime(e.timestamp),
          team_id: e.teamId,
          project_id: e.teamId,
          distinct_id: e.distinctId,
          elements_chain: e.elementsChain,
          created_at: clickHouseTime(e.createdAt),
          captured_at: e.capturedAt === null ? null : clickHouseTime(e.capturedAt),
          person_id: e.personId,
          person_properties: encode(e.personProperties),
          person_created_at: clickHouseTime(e.personCreatedAt),
          person_mode: e.personMode,
          ...(e.historicalMigration ? { historical_migration: true } : {}),
        }
        records.push({ topic: Topics.events, key: e.uuid, value: JSON.stringify(row) })
        break
      }
      case 'group_type_assigned':
      case 'personless_distinct_id_seen':
        break
      default:
        unhandledFact(fact)
    }
  }
  return records
}
