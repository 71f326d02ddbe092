import { type Fact, unhandledFact } from '../../schema/facts.ts'
import { groupIdentityKey, identityKey } from '../../schema/identity-keys.ts'
import type { IdentityState } from './state.ts'

/** Applies one fact to the batch-local state. The caller owns the state; facts are never changed. */
export function evolveIdentity(state: IdentityState, fact: Fact): void {
  switch (fact.type) {
    case 'person_created':
    case 'person_updated': {
      // spelled out rather than spread: this runs for nearly every event
      state.persons.set(fact.uuid, {
        teamId: fact.teamId,
        uuid: fact.uuid,
        createdAt: fact.createdAt,
        properties: fact.properties,
        isIdentified: fact.isIdentified,
        version: fact.version,
        distinctIds: fact.type === 'person_updated' ? (state.persons.get(fact.uuid)?.distinctIds ?? []) : [],
      })
      break
    }
    case 'person_deleted':
      state.persons.delete(fact.uuid)
      break
    case 'distinct_id_assigned': {
      const key = identityKey(fact.teamId, fact.distinctId)
      const previous = state.distinctIds.get(key)
      if (previous && previous.personUuid !== fact.personUuid) {
        const former = state.persons.get(previous.personUuid)
        if (former) former.distinctIds = former.distinctIds.filter((id) => id !== fact.distinctId)
      }
      state.distinctIds.set(key, { personUuid: fact.personUuid, version: fact.version })
      const person = state.persons.get(fact.personUuid)
      if (person && !person.distinctIds.includes(fact.distinctId))
        person.distinctIds = [...person.distinctIds, fact.distinctId]
      const personless = state.personless.get(key)
      if (personless) state.personless.set(key, { isMerged: true })
      break
    }
    case 'personless_distinct_id_seen': {
      const key = identityKey(fact.teamId, fact.distinctId)
      if (!state.personless.has(key)) state.personless.set(key, { isMerged: false })
      break
    }
    case 'group_type_assigned':
      state.groupTypes.set(identityKey(fact.teamId, fact.groupType), fact.groupTypeIndex)
      break
    case 'group_updated': {
      const { type: _type, ...group } = fact
      state.groups.set(groupIdentityKey(fact.teamId, fact.groupTypeIndex, fact.groupKey), group)
      break
    }
    case 'persons_merged':
    case 'ingestion_warning':
    case 'event_ingested':
      break
    default:
      unhandledFact(fact)
  }
}
