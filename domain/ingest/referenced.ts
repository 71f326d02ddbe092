import type { PipelineEvent } from './pipeline-event.ts'

export interface ReferencedIdentities {
  distinctIds: string[]
  /** Those of `distinctIds` whose person a merge of the batch may absorb, all its ids moving. */
  absorbable: string[]
  groups: { groupType: string; groupKey: string }[]
}

/**
 * What ingest must load (and lock) before deciding this event of a batch. A merge absorbs the
 * person of the id it names (`$anon_distinct_id`, `alias`), and only if that person is not
 * identified; every id a batch moves onto an existing person identifies that person. So only the
 * persons of named ids can be absorbed (and such a person has just the one id it was created for,
 * unless its rows were written otherwise) — except in a batch holding a `$merge_dangerously`, which
 * absorbs identified persons too: there the person of any id a merge names, on either side, can go.
 */
export function referencedIdentities(
  event: PipelineEvent,
  batch: { mergesDangerously: boolean },
): ReferencedIdentities {
  const distinctIds = [event.distinctId]
  const merged = mergeTarget(event)
  const absorbable: string[] = []
  if (merged !== undefined) {
    distinctIds.push(merged)
    absorbable.push(...(batch.mergesDangerously ? distinctIds : [merged]))
  }
  const groups: ReferencedIdentities['groups'] = []
  if (event.event === '$groupidentify') {
    const { $group_type: groupType, $group_key: groupKey } = event.properties
    if (groupType !== undefined && groupKey !== undefined)
      groups.push({ groupType: String(groupType), groupKey: String(groupKey) })
  }
  return { distinctIds, absorbable, groups }
}

/** The other distinct id a merge event names, if it is one. */
export function mergeTarget(event: PipelineEvent): string | undefined {
  if (event.event === '$identify' && '$anon_distinct_id' in event.properties)
    return String(event.properties.$anon_distinct_id)
  if ((event.event === '$create_alias' || event.event === '$merge_dangerously') && event.properties.alias) {
    return String(event.properties.alias)
  }
  return undefined
}
