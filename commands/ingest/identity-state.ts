import { emptyIdentityState, type IdentityState } from '../../domain/identity/state.ts'
import type { LoadedIdentities } from '../../ports/identity-store.ts'
import { groupIdentityKey, identityKey } from '../../schema/identity-keys.ts'

/** The domain's batch-local state, from what the identity store loaded and locked. */
export function identityStateFrom(loaded: LoadedIdentities): IdentityState {
  const state = emptyIdentityState()
  for (const person of loaded.persons) {
    state.persons.set(person.uuid, {
      teamId: person.teamId,
      uuid: person.uuid,
      createdAt: person.createdAt,
      properties: person.properties,
      isIdentified: person.isIdentified,
      version: person.version,
      distinctIds: person.distinctIds.map((d) => d.distinctId),
    })
    for (const { distinctId, version } of person.distinctIds) {
      state.distinctIds.set(identityKey(person.teamId, distinctId), { personUuid: person.uuid, version })
    }
  }
  for (const row of loaded.personless) {
    state.personless.set(identityKey(row.teamId, row.distinctId), { isMerged: row.isMerged })
  }
  for (const row of loaded.groupTypes) {
    state.groupTypes.set(identityKey(row.teamId, row.groupType), row.groupTypeIndex)
  }
  for (const group of loaded.groups) {
    state.groups.set(groupIdentityKey(group.teamId, group.groupTypeIndex, group.groupKey), { ...group })
  }
  return state
}
