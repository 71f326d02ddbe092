import type { Fact } from '../../schema/facts.ts'
import { groupIdentityKey, identityKey } from '../../schema/identity-keys.ts'
import type { IdentityState } from '../identity/state.ts'
import { isObject, type PipelineEvent } from '../ingest/pipeline-event.ts'

/** PostHog allows five group types per project (indexes 0–4); further types are ignored. */
export const maxGroupTypes = 5

export interface GroupTypeDecision {
  /** Index of each type that has (or now gets) one. */
  indexes: Map<string, number>
  facts: Fact[]
}

/** The index of each group type, assigning the lowest free index to new types while there is one. */
export function decideGroupTypes(
  state: IdentityState,
  teamId: number,
  groupTypes: readonly string[],
): GroupTypeDecision {
  const indexes = new Map<string, number>()
  const facts: Fact[] = []
  // the indexes the team uses, gathered only when a new type needs one
  let taken: Set<number> | undefined
  for (const groupType of groupTypes) {
    if (indexes.has(groupType)) continue
    const known = state.groupTypes.get(identityKey(teamId, groupType))
    if (known !== undefined) {
      indexes.set(groupType, known)
      continue
    }
    taken ??= teamGroupTypeIndexes(state, teamId)
    const used = taken
    const free = [0, 1, 2, 3, 4].slice(0, maxGroupTypes).find((i) => !used.has(i))
    if (free === undefined) continue
    taken.add(free)
    indexes.set(groupType, free)
    facts.push({ type: 'group_type_assigned', teamId, groupType, groupTypeIndex: free })
  }
  return { indexes, facts }
}

function teamGroupTypeIndexes(state: IdentityState, teamId: number): Set<number> {
  const prefix = identityKey(teamId, '')
  const used = new Set<number>()
  for (const [key, index] of state.groupTypes) if (key.startsWith(prefix)) used.add(index)
  return used
}

/**
 * `$groupidentify`: `$group_set` keys are set where absent or different (no set_once or unset for
 * groups); created_at is the earliest event time seen; a new group is version 1, each change +1.
 */
export function decideGroupIdentify(
  state: IdentityState,
  teamId: number,
  event: PipelineEvent,
  indexes: ReadonlyMap<string, number>,
): Fact[] {
  const identified = identifiedGroup(event)
  if (identified === undefined) return []
  const { groupType, groupKey } = identified
  const index = indexes.get(groupType)
  if (index === undefined) return []
  const groupSet = event.properties.$group_set
  const existing = state.groups.get(groupIdentityKey(teamId, index, groupKey))
  const updates = isObject(groupSet) ? groupSet : {}
  const properties: Record<string, unknown> = { ...(existing?.properties ?? {}) }
  let changed = existing === undefined
  for (const [key, value] of Object.entries(updates)) {
    if (!Object.hasOwn(properties, key) || JSON.stringify(properties[key]) !== JSON.stringify(value)) {
      Object.defineProperty(properties, key, { value, enumerable: true, writable: true, configurable: true })
      changed = true
    }
  }
  const createdAt = existing && existing.createdAt < event.timestamp ? existing.createdAt : event.timestamp
  if (existing && createdAt !== existing.createdAt) changed = true
  if (!changed) return []
  return [
    {
      type: 'group_updated',
      teamId,
      groupTypeIndex: index,
      groupKey,
      properties,
      createdAt,
      version: (existing?.version ?? 0) + 1,
    },
  ]
}

/** The group a `$groupidentify` event names, if it names one. */
export function identifiedGroup(event: PipelineEvent): { groupType: string; groupKey: string } | undefined {
  if (event.event !== '$groupidentify') return undefined
  const { $group_type: groupType, $group_key: groupKey } = event.properties
  if (groupType === undefined || groupType === null || groupKey === undefined || groupKey === null)
    return undefined
  return { groupType: String(groupType), groupKey: String(groupKey) }
}
