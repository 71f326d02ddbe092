import type { FeatureFlag, FlagPropertyFilter, PropertyOperator } from '../../schema/flags.ts'
import { textOf } from './json-text.ts'
import {
  caretRange,
  parseVersion,
  tildeRange,
  type Version,
  type VersionRange,
  wildcardRange,
} from './semver.ts'

/**
 * A flag made ready to evaluate many times: defaults applied, regular expressions compiled once.
 * Built when a project's definitions are loaded, not per request.
 */
export interface PreparedFlag {
  id: number
  key: string
  version: number
  ensureExperienceContinuity: boolean
  /** The group type index the flag is rolled out over; null for persons. */
  aggregation: number | null
  conditions: PreparedCondition[]
  variants: { key: string; rolloutPercentage: number }[]
  payloads: Record<string, unknown>
  holdout: { id: number; exclusionPercentage: number } | null
  /** The person properties its filters read (to know whether a request's own cover them). */
  personPropertyKeys: string[]
  /** The group properties its filters read, by group type index. */
  groupPropertyKeys: { groupTypeIndex: number; key: string }[]
}

export interface PreparedCondition {
  filters: PreparedFilter[]
  /** null: everyone the filters match. */
  rolloutPercentage: number | null
  variant: string | null
  /** The condition's own aggregation, else the flag's. */
  aggregation: number | null
}

export interface PreparedFilter {
  key: string
  operator: PropertyOperator
  value: unknown
  type: 'person' | 'group'
  groupTypeIndex: number | null
  /** For `regex`/`not_regex`: the compiled pattern, null when it does not compile. */
  regex: RegExp | null
  /** For `semver_eq` … `semver_lte`: the filter's version, null when it is none. */
  version: Version | null
  /** For `semver_tilde/caret/wildcard`: the versions the filter allows, null when it is no range. */
  versionRange: VersionRange | null
}

export function prepareFlag(flag: FeatureFlag): PreparedFlag {
  const filters = flag.filters
  const aggregation = filters.aggregation_group_type_index ?? null
  const conditions: PreparedCondition[] = (filters.groups ?? []).map((condition) => ({
    filters: (condition.properties ?? []).map(prepareFilter),
    rolloutPercentage: condition.rollout_percentage ?? null,
    variant: condition.variant ?? null,
    aggregation:
      condition.aggregation_group_type_index === undefined
        ? aggregation
        : condition.aggregation_group_type_index,
  }))
  const personPropertyKeys = new Set<string>()
  const groupPropertyKeys = new Map<string, { groupTypeIndex: number; key: string }>()
  for (const condition of conditions)
    for (const filter of condition.filters) {
      if (filter.type === 'person') personPropertyKeys.add(filter.key)
      else {
        const groupTypeIndex = filter.groupTypeIndex ?? condition.aggregation
        if (groupTypeIndex !== null)
          groupPropertyKeys.set(`${groupTypeIndex}:${filter.key}`, { groupTypeIndex, key: filter.key })
      }
    }
  return {
    id: flag.id,
    key: flag.key,
    version: flag.version,
    ensureExperienceContinuity: flag.ensureExperienceContinuity,
    aggregation,
    conditions,
    variants: (filters.multivariate?.variants ?? []).map((variant) => ({
      key: variant.key,
      rolloutPercentage: variant.rollout_percentage,
    })),
    payloads: filters.payloads ?? {},
    holdout: filters.holdout
      ? { id: filters.holdout.id, exclusionPercentage: filters.holdout.exclusion_percentage }
      : null,
    personPropertyKeys: [...personPropertyKeys],
    groupPropertyKeys: [...groupPropertyKeys.values()],
  }
}

export function prepareFilter(filter: FlagPropertyFilter): PreparedFilter {
  // Validation (filter-rules.ts) let only known operators and types in.
  const operator = (filter.operator ?? 'exact') as PropertyOperator
  const value = filter.value
  return {
    key: filter.key,
    operator,
    value,
    type: filter.type === 'group' ? 'group' : 'person',
    groupTypeIndex: filter.group_type_index ?? null,
    regex: operator === 'regex' || operator === 'not_regex' ? compilePattern(value) : null,
    version: /^semver_(eq|neq|gt|gte|lt|lte)$/.test(operator) && value != null ? parseVersion(value) : null,
    versionRange:
      value == null
        ? null
        : operator === 'semver_tilde'
          ? tildeRange(value)
          : operator === 'semver_caret'
            ? caretRange(value)
            : operator === 'semver_wildcard'
              ? wildcardRange(value)
              : null,
  }
}

/**
 * PostHog's flags service compiles patterns with Rust's regex syntax; JavaScript's agrees on the
 * common subset. Rust's leading inline flags (`(?i)`, `(?s)`, `(?m)`) become JavaScript flags;
 * Unicode mode is used when the pattern allows it, as Rust matches whole characters.
 */
function compilePattern(value: unknown): RegExp | null {
  if (value === undefined || value === null) return null
  let pattern = textOf(value)
  let flags = ''
  const inline = /^\(\?([ims]+)\)/.exec(pattern)
  if (inline) {
    flags = [...new Set(inline[1])].join('')
    pattern = pattern.slice(inline[0].length)
  }
  for (const mode of [`${flags}u`, flags]) {
    try {
      return new RegExp(pattern, mode)
    } catch {
      // try without Unicode mode, then give up: the filter matches nothing
    }
  }
  return null
}
