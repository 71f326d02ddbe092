import type { FlagFilters } from '../api/types.ts'

/** Who a flag is on for, in one line: what the list shows of its release conditions. */
export function describeRollout(filters: FlagFilters): string {
  const groups = filters.groups ?? []
  const who =
    filters.aggregation_group_type_index == null
      ? 'persons'
      : `groups of type ${filters.aggregation_group_type_index}`
  const conditions =
    groups.length === 0
      ? 'nobody (no release condition)'
      : groups
          .map((group) => {
            const share = group.rollout_percentage == null ? 'all' : `${group.rollout_percentage}%`
            const count = group.properties?.length ?? 0
            const matching = count === 0 ? '' : ` matching ${count} ${count === 1 ? 'filter' : 'filters'}`
            return `${share} of ${who}${matching}`
          })
          .join('; or ')
  const variants = filters.multivariate?.variants ?? []
  if (variants.length === 0) return conditions
  return `${conditions} · variants ${variants.map((v) => `${v.key} ${v.rollout_percentage}%`).join(', ')}`
}

/** What a new flag starts with: on for everyone, which the user narrows. */
export const newFlagFilters: FlagFilters = { groups: [{ properties: [], rollout_percentage: 100 }] }

/** The release conditions a user typed, or what is wrong with them. */
export function parseFilters(text: string): { filters: FlagFilters } | { problem: string } {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    return {
      problem: `The release conditions are not JSON: ${error instanceof Error ? error.message : String(error)}`,
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return {
      problem: 'The release conditions are a JSON object, such as {"groups": [{"rollout_percentage": 50}]}.',
    }
  return { filters: parsed as FlagFilters }
}
