import { bucketHash } from './bucket-hash.ts'
import { matchProperty } from './match-property.ts'
import type { PreparedCondition, PreparedFlag } from './prepare-flag.ts'

/** Everything one request's evaluation reads; the caller loaded it, the evaluation decides. */
export interface EvaluationContext {
  distinctId: string
  /**
   * `$anon_distinct_id` as the SDK sent it after identify: a continuity flag with no stored hash
   * key override hashes this id, so the first answer after identify is the one before it.
   */
  anonDistinctId: string | null
  /** Group key per group type index, for the groups the request named. */
  groupKeys: ReadonlyMap<number, string>
  /** Stored person properties merged with the request's (see personPropertiesFor). */
  personProperties: Record<string, unknown>
  /** Stored group properties merged with the request's, per group type index. */
  groupProperties: ReadonlyMap<number, Record<string, unknown>>
  /** Flag key → the id it hashes instead of the distinct id (experience continuity). */
  hashKeyOverrides: Readonly<Record<string, string>>
  /** Epoch milliseconds, for relative date filters. */
  now: number
}

/**
 * PostHog's reasons. `no_condition_match_groups_not_evaluated` goes out as `no_condition_match`
 * with its own description: person conditions failed and group ones could not run.
 */
export type MatchReason =
  | 'holdout_condition_value'
  | 'condition_match'
  | 'out_of_rollout_bound'
  | 'no_condition_match'
  | 'no_condition_match_groups_not_evaluated'
  | 'no_group_type'

export interface FlagMatch {
  matches: boolean
  /** Only ever set on a match: SDKs read `variant ?? enabled`. */
  variant: string | null
  reason: MatchReason
  conditionIndex: number | null
  /** The payload for the value the user got; undefined when there is none. */
  payload: unknown
}

// When conditions fail for different reasons, the most telling one is reported.
const rank: Record<MatchReason, number> = {
  holdout_condition_value: 5,
  condition_match: 4,
  out_of_rollout_bound: 3,
  no_condition_match: 2,
  no_condition_match_groups_not_evaluated: 2,
  no_group_type: 1,
}

/**
 * One active flag for one user, as PostHog's flags service evaluates it: the holdout first, then
 * release conditions in their listed order; the first that matches decides, and its variant
 * override (if it names a variant) or the hashed variant is the value.
 */
export function evaluateFlag(flag: PreparedFlag, context: EvaluationContext): FlagMatch {
  if (flag.holdout) {
    const held = holdoutVariant(flag, flag.holdout, context)
    if (held !== null) return matched(flag, held, 'holdout_condition_value', null)
  }
  // The most telling reason so far (a later condition wins ties), reported when none matches.
  let reason: MatchReason = 'no_group_type'
  let reasonIndex: number | null = null
  let skippedGroupCondition = false
  const conditions = flag.conditions
  for (let index = 0; index < conditions.length; index++) {
    const condition = conditions[index]!
    let outcome: MatchReason
    if (condition.aggregation !== null && !context.groupKeys.has(condition.aggregation)) {
      skippedGroupCondition = true
      outcome = 'no_group_type'
    } else outcome = conditionOutcome(flag, condition, context)
    if (rank[reason] <= rank[outcome]) {
      reason = outcome
      reasonIndex = index
    }
    if (outcome === 'condition_match') {
      const override = condition.variant
      const variant =
        override !== null && flag.variants.some((v) => v.key === override)
          ? override
          : hashedVariant(flag, condition.aggregation, context)
      return matched(flag, variant, reason, reasonIndex)
    }
  }
  if (reason === 'no_condition_match' && skippedGroupCondition)
    reason = 'no_condition_match_groups_not_evaluated'
  return { matches: false, variant: null, reason, conditionIndex: reasonIndex, payload: undefined }
}

function matched(
  flag: PreparedFlag,
  variant: string | null,
  reason: MatchReason,
  conditionIndex: number | null,
): FlagMatch {
  const payload = flag.payloads[variant ?? 'true']
  return { matches: true, variant, reason, conditionIndex, payload }
}

function conditionOutcome(
  flag: PreparedFlag,
  condition: PreparedCondition,
  context: EvaluationContext,
): 'condition_match' | 'no_condition_match' | 'out_of_rollout_bound' {
  for (const filter of condition.filters) {
    const properties =
      filter.type === 'person'
        ? context.personProperties
        : (context.groupProperties.get(filter.groupTypeIndex ?? condition.aggregation ?? -1) ?? {})
    if (!matchProperty(filter, properties, context.now)) return 'no_condition_match'
  }
  const percentage = condition.rolloutPercentage ?? 100
  if (percentage === 100) return 'condition_match'
  return flagHash(flag, '', condition.aggregation, context) <= percentage / 100
    ? 'condition_match'
    : 'out_of_rollout_bound'
}

/** Cumulative ranges in the declared order; a hash past them all gives no variant (`true`). */
function hashedVariant(
  flag: PreparedFlag,
  aggregation: number | null,
  context: EvaluationContext,
): string | null {
  const hash = flagHash(flag, 'variant', aggregation, context)
  let upTo = 0
  for (const variant of flag.variants) {
    upTo += variant.rolloutPercentage / 100
    if (hash < upTo) return variant.key
  }
  return null
}

function flagHash(
  flag: PreparedFlag,
  salt: string,
  aggregation: number | null,
  context: EvaluationContext,
): number {
  const id = hashedId(flag, aggregation, context, true)
  // PostHog hashes no empty id: such a user is at 0, inside every rollout.
  return id === '' ? 0 : bucketHash(`${flag.key}.${id}${salt}`)
}

/**
 * The id a flag buckets by: the group key for group aggregation; otherwise a stored hash key
 * override, then (continuity flags) the request's anonymous id, then the distinct id.
 */
function hashedId(
  flag: PreparedFlag,
  aggregation: number | null,
  context: EvaluationContext,
  useStoredOverrides: boolean,
): string {
  if (aggregation !== null) return context.groupKeys.get(aggregation) ?? ''
  const stored = useStoredOverrides ? context.hashKeyOverrides[flag.key] : undefined
  if (stored !== undefined) return stored
  if (flag.ensureExperienceContinuity && context.anonDistinctId !== null) return context.anonDistinctId
  return context.distinctId
}

/** Holdouts hash `holdout-<id>` (no flag key), so one holdout takes the same users out of every flag. */
function holdoutVariant(
  flag: PreparedFlag,
  holdout: { id: number; exclusionPercentage: number },
  context: EvaluationContext,
): string | null {
  const percentage = Math.min(Math.max(holdout.exclusionPercentage, 0), 100)
  if (percentage < 100) {
    const id = hashedId(flag, flag.aggregation, context, false)
    if (bucketHash(`holdout-${id}`) > percentage / 100) return null
  }
  return `holdout-${holdout.id}`
}
