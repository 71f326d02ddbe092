import type { PipelineEvent } from './pipeline-event.ts'

export interface ReferencedIdentities {
  distinctIds: string[]
  /** The event may merge the persons of its distinct ids. */
  merges: boolean
  groups: { groupType: string; groupKey: string }[]
}

/** What ingest must load (and lock) before deciding this event. */
export function referencedIdentities(event: PipelineEvent): ReferencedIdentities {
  const distinctIds = [event.distinctId]
  const merged = mergeTarget(event)
  if (merged !== undefined) distinctIds.push(merged)
  const groups: ReferencedIdentities['groups'] = []
  if (event.event === '$groupidentify') {
    const { $group_type: groupType, $group_key: groupKey } = event.properties
    if (groupType !== undefined && groupKey !== undefined)
      groups.push({ groupType: String(groupType), groupKey: String(groupKey) })
  }
  return { distinctIds, merges: merged !== undefined, groups }
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
