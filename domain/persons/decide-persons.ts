import type { Fact, PersonSnapshot } from '../../schema/facts.ts'
import { identityKey } from '../../schema/identity-keys.ts'
import { personUuid } from '../hash/uuid.ts'
import { type IdentityState, type PersonState, personOf } from '../identity/state.ts'
import type { PipelineEvent } from '../ingest/pipeline-event.ts'
import { mergeTarget } from '../ingest/referenced.ts'
import { isIllegalDistinctId } from './illegal-ids.ts'
import { applyPropertyUpdates, defineProperty, type PropertyUpdates } from './property-updates.ts'

type PersonFact = Extract<Fact, { type: 'person_created' | 'person_updated' }>

/** The person an event ends up stamped with. */
export interface EventPerson {
  uuid: string
  properties: Record<string, unknown>
  createdAt: string
}

export interface PersonsDecision {
  facts: Fact[]
  person: EventPerson
}

/**
 * PostHog's person processing for one event: merge handling for
 * `$identify`, `$create_alias` and `$merge_dangerously`, else find or create the event's person;
 * then the event's `$set`/`$set_once`/`$unset`. Pure: reads `state`, returns facts.
 */
export function decidePersons(
  state: IdentityState,
  teamId: number,
  event: PipelineEvent,
  updates: PropertyUpdates,
): PersonsDecision {
  const other = mergeTarget(event)
  if (other === undefined || other === event.distinctId)
    return updatePerson(state, teamId, event, updates, false)
  const illegal = [other, event.distinctId].find(isIllegalDistinctId)
  if (illegal !== undefined) {
    const warning = warningFact(teamId, event, 'cannot_merge_with_illegal_distinct_id', {
      illegalDistinctId: illegal,
      otherDistinctId: illegal === other ? event.distinctId : other,
      eventUuid: event.uuid,
    })
    const decision = updatePerson(state, teamId, event, updates, false)
    return { ...decision, facts: [warning, ...decision.facts] }
  }
  return mergeIdentities(state, teamId, event, updates, other)
}

function updatePerson(
  state: IdentityState,
  teamId: number,
  event: PipelineEvent,
  updates: PropertyUpdates,
  markIdentified: boolean,
): PersonsDecision {
  const person = personOf(state, teamId, event.distinctId)
  if (person === undefined)
    return createPerson(state, teamId, event, updates, [event.distinctId], markIdentified)
  const fact = updatedPerson(person, updates, markIdentified)
  return { facts: fact ? [fact] : [], person: eventPerson(fact ?? person) }
}

function createPerson(
  state: IdentityState,
  teamId: number,
  event: PipelineEvent,
  updates: PropertyUpdates,
  distinctIds: string[],
  isIdentified: boolean,
): PersonsDecision {
  const properties = applyPropertyUpdates({}, updates) ?? {}
  defineProperty(properties, '$creator_event_uuid', event.uuid)
  const created: PersonFact = {
    type: 'person_created',
    teamId,
    uuid: personUuid(teamId, distinctIds[0]!),
    createdAt: event.timestamp,
    properties,
    isIdentified,
    version: 0,
  }
  return {
    facts: [created, ...distinctIds.map((id) => assignDistinctId(state, teamId, id, created.uuid))],
    person: eventPerson(created),
  }
}

/** A snapshot with the event's updates applied, or undefined when nothing would change. */
function updatedPerson(
  person: PersonState,
  updates: PropertyUpdates,
  markIdentified: boolean,
): PersonFact | undefined {
  const properties = applyPropertyUpdates(person.properties, updates)
  const isIdentified = person.isIdentified || markIdentified
  if (properties === undefined && isIdentified === person.isIdentified) return undefined
  return {
    type: 'person_updated',
    ...snapshotOf(person),
    properties: properties ?? person.properties,
    isIdentified,
    version: person.version + 1,
  }
}

function mergeIdentities(
  state: IdentityState,
  teamId: number,
  event: PipelineEvent,
  updates: PropertyUpdates,
  other: string,
): PersonsDecision {
  const into = personOf(state, teamId, event.distinctId)
  const absorbed = personOf(state, teamId, other)

  if (into === undefined && absorbed === undefined) {
    // An id already used by personless events is preferred as the uuid source, so those events
    // keep pointing at the person they now belong to.
    const otherWasPersonless = state.personless.has(identityKey(teamId, other))
    const intoWasPersonless = state.personless.has(identityKey(teamId, event.distinctId))
    const ids =
      otherWasPersonless && !intoWasPersonless ? [other, event.distinctId] : [event.distinctId, other]
    return createPerson(state, teamId, event, updates, ids, true)
  }
  if (into === undefined || absorbed === undefined) {
    const holder = (into ?? absorbed)!
    const newcomer = into === undefined ? event.distinctId : other
    const fact = updatedPerson(holder, updates, true)
    return {
      facts: [...(fact ? [fact] : []), assignDistinctId(state, teamId, newcomer, holder.uuid)],
      person: eventPerson(fact ?? holder),
    }
  }
  if (into.uuid === absorbed.uuid) return updatePerson(state, teamId, event, updates, true)
  if (absorbed.isIdentified && event.event !== '$merge_dangerously') {
    const warning = warningFact(teamId, event, 'cannot_merge_already_identified', {
      sourcePersonDistinctId: other,
      targetPersonDistinctId: event.distinctId,
      eventUuid: event.uuid,
    })
    const decision = updatePerson(state, teamId, event, updates, true)
    return { ...decision, facts: [warning, ...decision.facts] }
  }
  return mergePeople(state, teamId, event, updates, into, absorbed)
}

function mergePeople(
  state: IdentityState,
  teamId: number,
  event: PipelineEvent,
  updates: PropertyUpdates,
  into: PersonState,
  absorbed: PersonState,
): PersonsDecision {
  const combined = { ...absorbed.properties, ...into.properties }
  const kept: PersonFact = {
    type: 'person_updated',
    ...snapshotOf(into),
    // biome-ignore lint/complexity/useMathMinMax: ISO 8601 texts, earliest first as text; Math.min would give NaN
    createdAt: absorbed.createdAt < into.createdAt ? absorbed.createdAt : into.createdAt,
    properties: applyPropertyUpdates(combined, updates) ?? combined,
    isIdentified: true,
    version: Math.max(into.version, absorbed.version) + 1,
  }
  const moved = [...absorbed.distinctIds].sort()
  return {
    facts: [
      kept,
      ...moved.map((id) => assignDistinctId(state, teamId, id, into.uuid)),
      // As PostHog deletes a person: a version far above any update the row could still receive.
      { type: 'person_deleted', teamId, uuid: absorbed.uuid, version: absorbed.version + 100 },
      {
        type: 'persons_merged',
        teamId,
        keptPersonUuid: into.uuid,
        mergedPersonUuid: absorbed.uuid,
        distinctIds: moved,
        eventUuid: event.uuid,
        event: event.event,
        timestamp: event.timestamp,
      },
    ],
    person: eventPerson(kept),
  }
}

/** A distinct id's first assignment is version 0 (1 if personless events already used it); every move adds 1. */
function assignDistinctId(
  state: IdentityState,
  teamId: number,
  distinctId: string,
  personUuid: string,
): Fact {
  const key = identityKey(teamId, distinctId)
  const current = state.distinctIds.get(key)
  const version = current ? current.version + 1 : state.personless.has(key) ? 1 : 0
  return { type: 'distinct_id_assigned', teamId, distinctId, personUuid, version }
}

export function warningFact(
  teamId: number,
  event: PipelineEvent,
  warningType: string,
  details: Record<string, unknown>,
): Fact {
  return { type: 'ingestion_warning', teamId, warningType, details, timestamp: event.timestamp }
}

function snapshotOf(person: PersonState): PersonSnapshot {
  const { distinctIds: _ids, ...snapshot } = person
  return snapshot
}

function eventPerson(person: PersonSnapshot): EventPerson {
  return { uuid: person.uuid, properties: person.properties, createdAt: person.createdAt }
}
