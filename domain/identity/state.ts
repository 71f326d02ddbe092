import { identityKey } from '../../schema/identity-keys.ts'

/**
 * The state ingest decides against: the persons, distinct ids, group types and groups a batch
 * touches, loaded from the Postgres projection and evolved in memory fact by fact.
 */
export interface PersonState {
  teamId: number
  uuid: string
  createdAt: string
  properties: Record<string, unknown>
  isIdentified: boolean
  version: number
  distinctIds: string[]
}

export interface DistinctIdState {
  personUuid: string
  version: number
}

export interface GroupState {
  teamId: number
  groupTypeIndex: number
  groupKey: string
  properties: Record<string, unknown>
  createdAt: string
  version: number
}

export interface IdentityState {
  /** By person uuid. */
  persons: Map<string, PersonState>
  /** By identityKey(teamId, distinctId). */
  distinctIds: Map<string, DistinctIdState>
  /** Distinct ids seen on personless events, by identityKey(teamId, distinctId). */
  personless: Map<string, { isMerged: boolean }>
  /** Group type → index, by identityKey(teamId, groupType); every type of a team is loaded. */
  groupTypes: Map<string, number>
  /** By groupIdentityKey(teamId, groupTypeIndex, groupKey). */
  groups: Map<string, GroupState>
}

export function emptyIdentityState(): IdentityState {
  return {
    persons: new Map(),
    distinctIds: new Map(),
    personless: new Map(),
    groupTypes: new Map(),
    groups: new Map(),
  }
}

export function personOf(state: IdentityState, teamId: number, distinctId: string): PersonState | undefined {
  const assignment = state.distinctIds.get(identityKey(teamId, distinctId))
  return assignment && state.persons.get(assignment.personUuid)
}
