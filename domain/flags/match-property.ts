import { dateOfProperty, parseDateText } from './dates.ts'
import { textOf } from './json-text.ts'
import { numberOf } from './numbers.ts'
import type { PreparedFilter } from './prepare-flag.ts'
import { compareVersions, inRange, parseVersion, type Version, type VersionRange } from './semver.ts'

/**
 * Whether one property filter matches, as PostHog's flags service decides it with everything it
 * knows (the server never answers "inconclusive"): a missing property fails a positive operator and
 * passes its negation (`is_not`, `not_icontains`, `not_regex`, …); a filter or value that cannot be
 * read as the operator needs is no match. `now` anchors relative dates.
 */
export function matchProperty(
  filter: PreparedFilter,
  properties: Record<string, unknown>,
  now: number,
): boolean {
  const present = Object.hasOwn(properties, filter.key)
  const actual = present ? properties[filter.key] : undefined
  switch (filter.operator) {
    case 'is_set':
      return present
    case 'is_not_set':
      return !present
  }
  const expected = filter.value
  if (expected === undefined || expected === null) return false
  switch (filter.operator) {
    case 'exact':
      return present ? exactMatch(expected, actual) : false
    case 'is_not':
      return present ? !exactMatch(expected, actual) : true
    case 'icontains':
    case 'not_icontains':
      return negatable(filter.operator === 'icontains', present, () =>
        asciiLower(textOf(actual)).includes(asciiLower(textOf(expected))),
      )
    case 'icontains_multi':
    case 'not_icontains_multi':
      return negatable(filter.operator === 'icontains_multi', present, () => {
        const haystack = asciiLower(textOf(actual))
        const needles = Array.isArray(expected) ? expected : [expected]
        return needles.some((needle) => haystack.includes(asciiLower(textOf(needle))))
      })
    case 'starts_with':
    case 'not_starts_with':
      return negatable(filter.operator === 'starts_with', present, () =>
        asciiLower(textOf(actual)).startsWith(asciiLower(textOf(expected))),
      )
    case 'ends_with':
    case 'not_ends_with':
      return negatable(filter.operator === 'ends_with', present, () =>
        asciiLower(textOf(actual)).endsWith(asciiLower(textOf(expected))),
      )
    case 'regex':
    case 'not_regex': {
      if (!present) return filter.operator === 'not_regex'
      // A pattern that does not compile matches nothing, for not_regex too.
      if (filter.regex === null) return false
      const found = filter.regex.test(textOf(actual))
      return filter.operator === 'regex' ? found : !found
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return present ? compareNumbers(filter.operator, actual, expected) : false
    case 'between':
    case 'not_between':
      return present ? between(filter.operator, actual, expected) : filter.operator === 'not_between'
    case 'semver_eq':
    case 'semver_neq':
    case 'semver_gt':
    case 'semver_gte':
    case 'semver_lt':
    case 'semver_lte':
      return present ? compareSemver(filter.operator, actual, filter.version) : false
    case 'semver_tilde':
    case 'semver_caret':
    case 'semver_wildcard':
      return present ? semverWithin(actual, filter.versionRange) : false
    case 'is_date_exact':
    case 'is_date_after':
    case 'is_date_before':
      return present ? compareDates(filter.operator, actual, expected, now) : false
  }
}

/** Positive operators fail on a missing property; their `not_` forms pass. */
function negatable(positive: boolean, present: boolean, contained: () => boolean): boolean {
  if (!present) return !positive
  return positive ? contained() : !contained()
}

/**
 * `exact`: a boolean-like filter (`true`, `"False"`, lists of them) compares truthiness; a list is
 * any-of; otherwise the texts compare case-insensitively.
 */
function exactMatch(expected: unknown, actual: unknown): boolean {
  if (isTruthyOrFalsy(expected)) return isTruthy(expected) === isTruthy(actual)
  if (Array.isArray(expected)) {
    const target = textOf(actual).toLowerCase()
    return expected.some((item) => textOf(item).toLowerCase() === target)
  }
  return textOf(expected).toLowerCase() === textOf(actual).toLowerCase()
}

function isTruthyOrFalsy(value: unknown): boolean {
  if (typeof value === 'boolean') return true
  if (typeof value === 'string') return /^(true|false)$/i.test(value)
  return Array.isArray(value) && value.every(isTruthyOrFalsy)
}

function isTruthy(value: unknown): boolean {
  if (typeof value === 'boolean') return value
  if (typeof value === 'string') return value.toLowerCase() === 'true'
  return Array.isArray(value) && value.every(isTruthy)
}

/** The service folds only ASCII letters for substring, prefix and suffix operators. */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase())
}

function compareNumbers(operator: 'gt' | 'gte' | 'lt' | 'lte', actual: unknown, expected: unknown): boolean {
  const left = numberOf(actual)
  const right = numberOf(expected)
  if (left === null || right === null) return false
  switch (operator) {
    case 'gt':
      return left > right
    case 'gte':
      return left >= right
    case 'lt':
      return left < right
    case 'lte':
      return left <= right
  }
}

/** Inclusive `[min, max]`; a malformed range or a value that is no number matches neither operator. */
function between(operator: 'between' | 'not_between', actual: unknown, expected: unknown): boolean {
  if (!Array.isArray(expected) || expected.length !== 2) return false
  const low = numberOf(expected[0])
  const high = numberOf(expected[1])
  if (low === null || high === null || Number.isNaN(low) || Number.isNaN(high) || low > high) return false
  const value = numberOf(actual)
  if (value === null || Number.isNaN(value)) return false
  const inside = value >= low && value <= high
  return operator === 'between' ? inside : !inside
}

function compareSemver(operator: string, actual: unknown, target: Version | null): boolean {
  const version = parseVersion(actual)
  if (version === null || target === null) return false
  const order = compareVersions(version, target)
  switch (operator) {
    case 'semver_eq':
      return order === 0
    case 'semver_neq':
      return order !== 0
    case 'semver_gt':
      return order > 0
    case 'semver_gte':
      return order >= 0
    case 'semver_lt':
      return order < 0
    default:
      return order <= 0
  }
}

function semverWithin(actual: unknown, range: VersionRange | null): boolean {
  const version = parseVersion(actual)
  return version !== null && range !== null && inRange(version, range)
}

function compareDates(operator: string, actual: unknown, expected: unknown, now: number): boolean {
  const value = dateOfProperty(actual, now)
  if (value === null || typeof expected !== 'string') return false
  const target = parseDateText(expected, now)
  if (target === null) return false
  if (operator === 'is_date_before') return value < target
  if (operator === 'is_date_after') return value > target
  return value === target
}
