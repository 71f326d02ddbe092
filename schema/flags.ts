import { type Static, Type } from '@sinclair/typebox'

/**
 * Feature flag definitions in PostHog's `filters` shape (POSTHOG_BEHAVIOUR §8.3): what the flag API
 * takes and returns, what `/flags/definitions` hands posthog-node for local evaluation, and what the
 * domain evaluates. Fields the UI adds that sluice does not read (labels, sort keys) are kept as sent.
 */

/** PostHog's property operators that sluice evaluates as its flags service does (§8.5). */
export const propertyOperators = [
  'exact',
  'is_not',
  'icontains',
  'not_icontains',
  'icontains_multi',
  'not_icontains_multi',
  'starts_with',
  'not_starts_with',
  'ends_with',
  'not_ends_with',
  'regex',
  'not_regex',
  'gt',
  'gte',
  'lt',
  'lte',
  'between',
  'not_between',
  'is_set',
  'is_not_set',
  'is_date_exact',
  'is_date_after',
  'is_date_before',
  'semver_eq',
  'semver_neq',
  'semver_gt',
  'semver_gte',
  'semver_lt',
  'semver_lte',
  'semver_tilde',
  'semver_caret',
  'semver_wildcard',
] as const
export type PropertyOperator = (typeof propertyOperators)[number]

/** PostHog has five group types per project, indexed 0–4. */
const GroupTypeIndex = Type.Integer({ minimum: 0, maximum: 4 })

export const FlagPropertyFilter = Type.Object(
  {
    key: Type.String({ minLength: 1 }),
    value: Type.Optional(Type.Unknown()),
    /** One of propertyOperators (checked with a clear message by the domain); `exact` when absent. */
    operator: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    /**
     * `person` (the default) or `group`. PostHog also has `cohort` and `flag` filters; sluice has
     * neither cohorts nor flag dependencies and refuses them rather than evaluating them otherwise.
     */
    type: Type.Optional(Type.String()),
    /** Which group's properties a `group` filter reads; the condition's aggregation when absent. */
    group_type_index: Type.Optional(Type.Union([GroupTypeIndex, Type.Null()])),
    negation: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: true },
)
export type FlagPropertyFilter = Static<typeof FlagPropertyFilter>

const Percentage = Type.Number({ minimum: 0, maximum: 100 })

/** A release condition: all its filters (AND), then its rollout percentage. */
export const FlagCondition = Type.Object(
  {
    properties: Type.Optional(Type.Array(FlagPropertyFilter)),
    /** null or absent: everyone who matches the filters. */
    rollout_percentage: Type.Optional(Type.Union([Percentage, Type.Null()])),
    /** A variant everyone matching this condition gets (must be one of the flag's variants). */
    variant: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    /**
     * Per-condition aggregation (mixed targeting): absent means the flag's, null means persons.
     */
    aggregation_group_type_index: Type.Optional(Type.Union([GroupTypeIndex, Type.Null()])),
  },
  { additionalProperties: true },
)
export type FlagCondition = Static<typeof FlagCondition>

export const FlagVariant = Type.Object(
  {
    key: Type.String({ minLength: 1 }),
    name: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    rollout_percentage: Percentage,
  },
  { additionalProperties: true },
)
export type FlagVariant = Static<typeof FlagVariant>

export const FlagFilters = Type.Object(
  {
    groups: Type.Optional(Type.Array(FlagCondition)),
    multivariate: Type.Optional(
      Type.Union([Type.Object({ variants: Type.Array(FlagVariant) }), Type.Null()]),
    ),
    /** Keyed by `"true"` or a variant key; values are usually JSON text, handed to SDKs as stored. */
    payloads: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /** The group type the flag is rolled out over; null or absent: persons. */
    aggregation_group_type_index: Type.Optional(Type.Union([GroupTypeIndex, Type.Null()])),
    /** An experiment holdout: this share of users gets `holdout-<id>` before any condition runs. */
    holdout: Type.Optional(
      Type.Union([
        Type.Object({ id: Type.Integer(), exclusion_percentage: Percentage }, { additionalProperties: true }),
        Type.Null(),
      ]),
    ),
  },
  { additionalProperties: true },
)
export type FlagFilters = Static<typeof FlagFilters>

/** A stored flag, as the domain evaluates it. */
export interface FeatureFlag {
  id: number
  teamId: number
  key: string
  name: string
  filters: FlagFilters
  active: boolean
  deleted: boolean
  ensureExperienceContinuity: boolean
  /** Bumped by every change; SDKs see it in `metadata.version`. */
  version: number
  createdAt: string
  updatedAt: string
}

/** Flag keys as PostHog allows them. */
export const FlagKey = Type.String({ minLength: 1, maxLength: 400, pattern: '^[a-zA-Z0-9_-]+$' })

export const CreateFlagBody = Type.Object({
  key: FlagKey,
  name: Type.Optional(Type.String({ maxLength: 4000 })),
  filters: Type.Optional(FlagFilters),
  active: Type.Optional(Type.Boolean()),
  ensure_experience_continuity: Type.Optional(Type.Boolean()),
})
export type CreateFlagBody = Static<typeof CreateFlagBody>

export const UpdateFlagBody = Type.Partial(
  Type.Object({
    key: FlagKey,
    name: Type.String({ maxLength: 4000 }),
    filters: FlagFilters,
    active: Type.Boolean(),
    deleted: Type.Boolean(),
    ensure_experience_continuity: Type.Boolean(),
  }),
)
export type UpdateFlagBody = Static<typeof UpdateFlagBody>

/** The id a continuity flag hashes for a distinct id instead of that id (see domain/flags/continuity.ts). */
export interface HashKeyOverride {
  distinctId: string
  flagKey: string
  hashKey: string
}
