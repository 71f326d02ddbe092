import type { Fact, IngestedEvent } from '../../schema/facts.ts'
import { identityKey } from '../../schema/identity-keys.ts'
import { withAutoPersonProperties } from '../event/auto-person-properties.ts'
import { elementsChainOf } from '../event/elements-chain.ts'
import { decideGroupIdentify, decideGroupTypes, identifiedGroup } from '../groups/decide-groups.ts'
import { isUuid, personUuid } from '../hash/uuid.ts'
import { type IdentityState, personOf } from '../identity/state.ts'
import { decidePersons, type EventPerson, warningFact } from '../persons/decide-persons.ts'
import { propertyUpdatesOf } from '../persons/property-updates.ts'
import { isObject, type PipelineEvent } from './pipeline-event.ts'

export interface TeamSettings {
  teamId: number
  /** The project's setting at ingestion: used only for commands capture passed on undecided. */
  anonymizeIps: boolean
}

export interface EventDecision {
  outcome: 'ingested' | 'dropped'
  facts: Fact[]
}

// PostHog's column width for distinct ids and group keys: ingest drops events whose id is longer
// (capture truncates ids to 200, so only commands written otherwise meet this).
const maxStoredIdLength = 400
const personUpdateKeys = ['$set', '$set_once', '$unset']
const processPersonProfileKey = ['$process_person_profile']
const ipKey = ['$ip']
const elementKeys = ['$elements', '$elements_chain']
const personlessForbidden = new Set(['$identify', '$create_alias', '$merge_dangerously', '$groupidentify'])
const untouchingPersons = new Set(['$exception', '$$heatmap'])
// The person PostHog stamps on personless events of ids that never had a person.
const personlessCreatedAt = '1970-01-01T00:00:05.000Z'

/**
 * Everything ingestion decides for one event, given the identities it touches: validation,
 * property normalisation, person and group processing, the enriched event. Pure — the same state
 * and event always give the same facts; nothing here reads a clock or a random source.
 */
export function decideEvent(state: IdentityState, team: TeamSettings, event: PipelineEvent): EventDecision {
  const { teamId } = team
  if (!isUuid(event.uuid))
    return dropped(teamId, event, 'skipping_event_invalid_uuid', { eventUuid: JSON.stringify(event.uuid) })
  if (event.distinctId.length > maxStoredIdLength) {
    return dropped(teamId, event, 'skipping_event_invalid_distinct_id', {
      eventUuid: event.uuid,
      distinctId: event.distinctId.slice(0, 100),
    })
  }

  const facts: Fact[] = []
  for (const { field, value, reason } of event.timestampWarnings) {
    facts.push(
      warningFact(teamId, event, 'ignored_invalid_timestamp', {
        eventUuid: event.uuid,
        field,
        value,
        reason,
      }),
    )
  }
  const flag = event.properties.$process_person_profile
  if (flag !== undefined && typeof flag !== 'boolean') {
    facts.push(
      warningFact(teamId, event, 'invalid_process_person_profile', {
        eventUuid: event.uuid,
        value: JSON.stringify(flag),
      }),
    )
  }
  const personless = flag === false
  if (personless && personlessForbidden.has(event.event)) {
    return dropped(teamId, event, 'invalid_event_when_process_person_profile_is_false', {
      eventUuid: event.uuid,
      event: event.event,
    })
  }

  let properties = withAutoPersonProperties(event.event, { ...event.properties })
  if (personless || event.event === '$groupidentify') {
    properties = withoutKeys(properties, personUpdateKeys)
  }
  if (!personless) properties = withoutKeys(properties, processPersonProfileKey)
  if (!Object.hasOwn(properties, '$ip') && event.ip !== null) properties.$ip = event.ip
  // Capture's decision, recorded in the command, wins: a replay then decides as the first ingestion
  // did. The project's setting of now applies only to commands capture passed on undecided.
  if (event.anonymizeIps ?? team.anonymizeIps) properties = withoutKeys(properties, ipKey)
  if (event.sentAt !== null) properties.$sent_at = event.sentAt
  const elementsChain = elementsChainOf(properties)
  properties = withoutKeys(properties, elementKeys)

  let person: EventPerson
  let personMode: IngestedEvent['personMode'] = 'full'
  if (personless) {
    personMode = 'propertyless'
    const existing = personOf(state, teamId, event.distinctId)
    person = existing
      ? { uuid: existing.uuid, properties: {}, createdAt: existing.createdAt }
      : { uuid: personUuid(teamId, event.distinctId), properties: {}, createdAt: personlessCreatedAt }
    if (!existing && !state.personless.has(identityKey(teamId, event.distinctId))) {
      facts.push({ type: 'personless_distinct_id_seen', teamId, distinctId: event.distinctId })
    }
  } else {
    const enriched = { ...event, properties }
    const updates = propertyUpdatesOf(untouchingPersons.has(event.event) ? {} : properties)
    const decision = decidePersons(state, teamId, enriched, updates)
    facts.push(...decision.facts)
    person = decision.person

    const groups = isObject(properties.$groups) ? properties.$groups : {}
    const identified = identifiedGroup(enriched)
    const types = decideGroupTypes(state, teamId, [
      ...Object.keys(groups),
      ...(identified ? [identified.groupType] : []),
    ])
    facts.push(...types.facts)
    for (const [groupType, groupKey] of Object.entries(groups)) {
      const index = types.indexes.get(groupType)
      if (index !== undefined && groupKey !== undefined && groupKey !== null)
        properties[`$group_${index}`] = String(groupKey)
    }
    if (identified && identified.groupKey.length > maxStoredIdLength) {
      return dropped(teamId, event, 'group_key_too_long', {
        eventUuid: event.uuid,
        groupKey: identified.groupKey.slice(0, 100),
      })
    }
    facts.push(...decideGroupIdentify(state, teamId, enriched, types.indexes))
  }

  facts.push({
    type: 'event_ingested',
    event: {
      uuid: event.uuid,
      event: event.event,
      teamId,
      distinctId: event.distinctId,
      properties,
      timestamp: event.timestamp,
      elementsChain,
      createdAt: event.now,
      capturedAt: event.now,
      personId: person.uuid,
      personProperties: person.properties,
      personCreatedAt: person.createdAt,
      personMode,
      historicalMigration: event.historicalMigration,
    },
  })
  return { outcome: 'ingested', facts }
}

function dropped(
  teamId: number,
  event: PipelineEvent,
  warningType: string,
  details: Record<string, unknown>,
): EventDecision {
  return { outcome: 'dropped', facts: [warningFact(teamId, event, warningType, details)] }
}

function withoutKeys(properties: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  if (!keys.some((key) => Object.hasOwn(properties, key))) return properties
  const copy = { ...properties }
  for (const key of keys) delete copy[key]
  return copy
}
