import { initialPersonPropertyOf } from '../event/auto-person-properties.ts'
import type { PreparedFlag } from './prepare-flag.ts'

/**
 * What the flags service reads besides the definitions, and how it merges it: stored properties
 * first, the request's on top, then `$initial_…` filled in from the current values where missing
 * (ingestion sets those a moment later than the request knows them).
 */

/**
 * The person properties flags match against. When the stored person was read (`stored` is not
 * undefined, null when the distinct id has no person), `distinct_id` is one of them, as in PostHog.
 */
export function personPropertiesFor(
  distinctId: string,
  stored: Record<string, unknown> | null | undefined,
  requested: Record<string, unknown>,
): Record<string, unknown> {
  const merged: Record<string, unknown> =
    stored === undefined ? { ...requested } : { ...stored, distinct_id: distinctId, ...requested }
  for (const key of Object.keys(merged)) {
    const initial = initialPersonPropertyOf.get(key)
    if (initial !== undefined && !Object.hasOwn(merged, initial)) merged[initial] = merged[key]
  }
  return merged
}

/** What a request must read from the projection: only what the request's own properties do not cover. */
export interface StoredInputsNeeded {
  personProperties: boolean
  /** Group type indexes whose stored properties some filter needs. */
  groupTypeIndexes: number[]
  /** Whether any flag keeps experience continuity (its hash key overrides are read, and written). */
  hashKeyOverrides: boolean
}

export function storedInputsNeeded(
  flags: readonly PreparedFlag[],
  requestedPersonProperties: Record<string, unknown>,
  requestedGroupProperties: ReadonlyMap<number, Record<string, unknown>>,
): StoredInputsNeeded {
  let personProperties = false
  const groupTypeIndexes = new Set<number>()
  for (const flag of flags) {
    if (!personProperties)
      personProperties = flag.personPropertyKeys.some((key) => !Object.hasOwn(requestedPersonProperties, key))
    for (const { groupTypeIndex, key } of flag.groupPropertyKeys) {
      const requested = requestedGroupProperties.get(groupTypeIndex)
      if (!requested || !Object.hasOwn(requested, key)) groupTypeIndexes.add(groupTypeIndex)
    }
  }
  return {
    personProperties,
    groupTypeIndexes: [...groupTypeIndexes].sort((a, b) => a - b),
    hashKeyOverrides: flags.some((flag) => flag.ensureExperienceContinuity),
  }
}
