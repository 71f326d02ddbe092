import type { HashKeyOverride } from '../../schema/flags.ts'

/**
 * Experience continuity (`ensure_experience_continuity`): when an anonymous user identifies, the
 * first flags request carries `$anon_distinct_id`; from then on every continuity flag hashes that
 * anonymous id for the user, so their rollout bucket and variant survive identify. PostHog stores
 * one override per person and flag; sluice stores one per distinct id of those persons (and of the
 * two ids themselves), which reads the same while persons merge and before ingest has created them.
 */

/** How close an id is to the request: its own id, its person's ids, the anonymous id, that one's person's. */
export type LinkedIds = Map<string, number>

export function linkedIds(
  distinctId: string,
  anonDistinctId: string | null,
  /** Every distinct id of the person each requested id belongs to. */
  personIds: readonly { of: string; distinctId: string }[],
): LinkedIds {
  const ranks: LinkedIds = new Map()
  const rank = (id: string, value: number) => {
    const known = ranks.get(id)
    if (known === undefined || value < known) ranks.set(id, value)
  }
  rank(distinctId, 0)
  if (anonDistinctId !== null) rank(anonDistinctId, 2)
  for (const { of, distinctId: id } of personIds) rank(id, of === distinctId ? 1 : 3)
  return ranks
}

/**
 * The overrides to store when a request brings `$anon_distinct_id`: every linked id gets the
 * anonymous id as hash key for every continuity flag it has none for. Existing ones are kept, as
 * PostHog never replaces an override.
 */
export function overridesToAdd(
  anonDistinctId: string,
  ids: LinkedIds,
  continuityFlagKeys: readonly string[],
  existing: readonly HashKeyOverride[],
): HashKeyOverride[] {
  const stored = new Set(existing.map((o) => `${o.flagKey}\u0000${o.distinctId}`))
  const added: HashKeyOverride[] = []
  for (const distinctId of ids.keys())
    for (const flagKey of continuityFlagKeys)
      if (!stored.has(`${flagKey}\u0000${distinctId}`))
        added.push({ distinctId, flagKey, hashKey: anonDistinctId })
  return added
}

/** Per flag, the override of the id closest to the request (its own before its person's, before the anonymous one's). */
export function chooseOverrides(
  ids: LinkedIds,
  overrides: readonly HashKeyOverride[],
): Record<string, string> {
  const chosen: Record<string, string> = {}
  const chosenRank: Record<string, number> = {}
  for (const override of overrides) {
    const rank = ids.get(override.distinctId)
    if (rank === undefined) continue
    const current = chosenRank[override.flagKey]
    if (current === undefined || rank < current) {
      chosen[override.flagKey] = override.hashKey
      chosenRank[override.flagKey] = rank
    }
  }
  return chosen
}
