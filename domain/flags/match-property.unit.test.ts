import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { PropertyOperator } from '../../schema/flags.ts'
import { matchProperty } from './match-property.ts'
import { type PreparedFilter, prepareFilter } from './prepare-flag.ts'

const now = Date.parse('2026-03-31T12:00:00.000Z')

function filter(operator: PropertyOperator, value: unknown, key = 'p'): PreparedFilter {
  return prepareFilter({ key, operator, value, type: 'person' })
}

/** Whether `{p: actual}` (or no `p` at all when actual is `missing`) matches. */
const missing = Symbol('missing')
function matches(operator: PropertyOperator, expected: unknown, actual: unknown): boolean {
  const properties = actual === missing ? { other: 1 } : { p: actual }
  return matchProperty(filter(operator, expected), properties, now)
}

describe('a property filter of each operator, as PostHog evaluates it on the server', () => {
  // [operator, filter value, property value, match?]: for each operator a match, a miss, and what a
  // missing property gives (a positive operator fails, its negation passes).
  const cases: [PropertyOperator, unknown, unknown, boolean][] = [
    ['exact', 'Value', 'value', true],
    ['exact', 'value', 'value2', false],
    ['exact', ['us', 'CA'], 'ca', true],
    ['exact', ['us', 'ca'], 'de', false],
    ['exact', 5, '5', true],
    ['exact', true, 'TRUE', true],
    ['exact', 'false', false, true],
    ['exact', 'true', 'yes', false],
    ['exact', 'null', null, true],
    ['exact', 'value', missing, false],
    ['is_not', 'value', 'value2', true],
    ['is_not', 'value', 'VALUE', false],
    ['is_not', ['a', 'b'], 'c', true],
    ['is_not', 'value', missing, true],
    ['icontains', 'valUe', 'xxVALUEyy', true],
    ['icontains', '3', 323, true],
    ['icontains', 'value', 'Alakazam', false],
    ['icontains', 'É', 'é', false],
    ['icontains', 'x', missing, false],
    ['not_icontains', 'valUe', 'xxVALUEyy', false],
    ['not_icontains', 'value', 'Alakazam', true],
    ['not_icontains', 'x', missing, true],
    ['icontains_multi', ['foo', 'BAR'], 'xbarx', true],
    ['icontains_multi', ['foo', 'bar'], 'baz', false],
    ['not_icontains_multi', ['foo', 'bar'], 'baz', true],
    ['not_icontains_multi', ['foo'], missing, true],
    ['starts_with', 'Val', 'value', true],
    ['starts_with', 'al', 'value', false],
    ['not_starts_with', 'al', 'value', true],
    ['ends_with', 'UE', 'value', true],
    ['ends_with', 'val', 'value', false],
    ['not_ends_with', 'val', 'value', true],
    ['not_ends_with', 'val', missing, true],
    ['regex', '^[a-z]+@example\\.com$', 'ann@example.com', true],
    ['regex', '^\\d+$', 'abc', false],
    ['regex', '(?i)^ANN', 'ann', true],
    ['regex', '(unclosed', 'unclosed', false],
    ['regex', '5', 1.5, true],
    ['regex', 'x', missing, false],
    ['not_regex', '^\\d+$', 'abc', true],
    ['not_regex', '^\\d+$', '123', false],
    ['not_regex', '(unclosed', 'anything', false],
    ['not_regex', 'x', missing, true],
    ['gt', 10, 11, true],
    ['gt', '10', '9', false],
    ['gt', 10, 'eleven', false],
    ['gt', 'ten', 11, false],
    ['gt', 1, missing, false],
    ['gte', 10, '10', true],
    ['gte', 10, 9.99, false],
    ['lt', 10, 9, true],
    ['lt', '1e2', '99', true],
    ['lt', 10, ' 9', false],
    ['lte', 10, 10, true],
    ['lte', 10, 10.5, false],
    ['between', [1, 10], 10, true],
    ['between', [1, 10], 0, false],
    ['between', [10, 1], 5, false],
    ['between', [1, 10], missing, false],
    ['not_between', [1, 10], 11, true],
    ['not_between', [1, 10], 5, false],
    ['not_between', [1, 10], 'NaN', false],
    ['not_between', [1, 10], missing, true],
    ['is_set', 'any', null, true],
    ['is_set', 'any', missing, false],
    ['is_not_set', 'any', '', false],
    ['is_not_set', 'any', missing, true],
    ['is_date_exact', '2026-01-02T03:04:05Z', '2026-01-02 03:04:05', true],
    ['is_date_exact', '2026-01-02', '2026-01-02T00:00:00+00:00', true],
    ['is_date_exact', '2026-01-02', '2026-01-02T00:00:01Z', false],
    ['is_date_after', '-7d', '2026-03-30T00:00:00Z', true],
    ['is_date_after', '-7d', '2026-03-20T00:00:00Z', false],
    ['is_date_after', '2026-01-01', 1767312000, true],
    ['is_date_after', '2026-01-01', '1767225599', false],
    ['is_date_after', '2026-01-01', 'not a date', false],
    ['is_date_after', '2026-01-01', missing, false],
    ['is_date_before', '-1m', '2026-02-27T12:00:00Z', true],
    ['is_date_before', '-1m', '2026-03-01T12:00:00Z', false],
    ['is_date_before', '2026-01-01T00:00:00+02:00', '2025-12-31T21:59:59Z', true],
    ['is_date_before', 'not a date', '2020-01-01', false],
    ['semver_eq', '1.2.3', 'v1.2.3', true],
    ['semver_eq', '3.8', '3.08.0', true],
    ['semver_eq', '1.2.3', '1.2.4', false],
    ['semver_eq', '1.2.3', 'not a version', false],
    ['semver_neq', '1.2.3', '1.2.4', true],
    ['semver_gt', '1.2.3', '1.10.0', true],
    ['semver_gt', '1.2.3', '1.2.3-beta', false],
    ['semver_gte', '1.2.3', '1.2.3', true],
    ['semver_lt', '2.0.0', '2.0.0-rc.1', true],
    ['semver_lt', '2.0.0', missing, false],
    ['semver_lte', '2.0.0', '2.0.1', false],
    ['semver_tilde', '1.2.3', '1.2.9', true],
    ['semver_tilde', '1.2.3', '1.3.0', false],
    ['semver_tilde', '1.2.3', '1.2.4-beta', false],
    ['semver_caret', '1.2.3', '1.9.0', true],
    ['semver_caret', '1.2.3', '2.0.0', false],
    ['semver_caret', '0.2.3', '0.3.0', false],
    ['semver_caret', '0.0.3', '0.0.4', false],
    ['semver_wildcard', '1.2.*', '1.2.7', true],
    ['semver_wildcard', '1.2.*', '1.3.0', false],
    ['semver_wildcard', '1.*', '1.9.9', true],
    ['semver_wildcard', '*', '42.0.0', true],
    ['semver_wildcard', '1.*.3', '1.2.3', false],
  ]
  it.each(cases)('%s %j on %j → %s', (operator, expected, actual, result) => {
    expect(matches(operator, expected, actual)).toBe(result)
  })

  it('a filter with no value matches nothing but is_set / is_not_set', () => {
    expect(matches('exact', null, 'x')).toBe(false)
    expect(matches('is_not', undefined, 'x')).toBe(false)
    expect(matches('is_set', null, 'x')).toBe(true)
  })
})

describe('operator rules over many values', () => {
  const scalar = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.double({ noNaN: true }),
  )

  it('is_not is exact negated when the property is there, and both know a missing one', () => {
    fc.assert(
      fc.property(fc.oneof(scalar, fc.array(fc.string(), { maxLength: 3 })), scalar, (expected, actual) => {
        fc.pre(expected !== null)
        expect(matches('is_not', expected, actual)).toBe(!matches('exact', expected, actual))
        expect(matches('exact', expected, missing)).toBe(false)
        expect(matches('is_not', expected, missing)).toBe(true)
      }),
    )
  })

  it('each not_ operator is its positive one negated, present or missing', () => {
    const pairs: [PropertyOperator, PropertyOperator][] = [
      ['icontains', 'not_icontains'],
      ['icontains_multi', 'not_icontains_multi'],
      ['starts_with', 'not_starts_with'],
      ['ends_with', 'not_ends_with'],
      ['regex', 'not_regex'],
    ]
    fc.assert(
      fc.property(
        fc.constantFrom(...pairs),
        fc.stringMatching(/^[a-zA-Z0-9 ]{1,4}$/),
        fc.option(scalar, { nil: missing }),
        ([positive, negative], expected, actual) => {
          expect(matches(negative, expected, actual)).toBe(!matches(positive, expected, actual))
        },
      ),
    )
  })

  it('icontains folds ASCII letters only, on both sides', () => {
    const ascii = fc.stringMatching(/^[a-zA-Z0-9]{0,6}$/)
    fc.assert(
      fc.property(ascii, fc.stringMatching(/^[a-zA-Z0-9]{1,6}$/), ascii, (before, needle, after) => {
        const haystack = `${before}${needle.toUpperCase()}${after}`
        expect(matches('icontains', needle.toLowerCase(), haystack)).toBe(true)
        expect(matches('starts_with', haystack.slice(0, 2).toLowerCase(), haystack)).toBe(true)
      }),
    )
  })

  it('gt/gte/lt/lte compare numbers, written as numbers or as text', () => {
    const number = fc.double({ noNaN: true, noDefaultInfinity: true })
    fc.assert(
      fc.property(number, number, fc.boolean(), (a, b, asText) => {
        const actual = asText ? String(a) : a
        expect(matches('gt', b, actual)).toBe(a > b)
        expect(matches('gte', String(b), actual)).toBe(a >= b)
        expect(matches('lt', b, actual)).toBe(a < b)
        expect(matches('lte', b, actual)).toBe(a <= b)
      }),
    )
  })

  it('semver comparisons order versions by major, minor, patch', () => {
    const part = fc.integer({ min: 0, max: 30 })
    const version = fc.tuple(part, part, part)
    fc.assert(
      fc.property(version, version, (a, b) => {
        const order = Math.sign(a[0] - b[0] || a[1] - b[1] || a[2] - b[2])
        const text = (v: number[]) => v.join('.')
        expect(matches('semver_gt', text(b), text(a))).toBe(order > 0)
        expect(matches('semver_eq', text(b), `v${text(a)}`)).toBe(order === 0)
        expect(matches('semver_lte', text(b), text(a))).toBe(order <= 0)
        expect(matches('semver_tilde', text(b), text(a))).toBe(a[0] === b[0] && a[1] === b[1] && a[2] >= b[2])
        const caret =
          b[0] > 0
            ? a[0] === b[0] && order >= 0
            : b[1] > 0
              ? a[0] === 0 && a[1] === b[1] && order >= 0
              : a[0] === 0 && a[1] === 0 && a[2] === b[2]
        expect(matches('semver_caret', text(b), text(a))).toBe(caret)
        expect(matches('semver_wildcard', `${b[0]}.${b[1]}.*`, text(a))).toBe(a[0] === b[0] && a[1] === b[1])
      }),
    )
  })

  it('relative dates count back from the evaluation time', () => {
    const day = 86_400_000
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9_999 }),
        fc.integer({ min: -3 * day, max: 3 * day }),
        (days, jitter) => {
          const propertyTime = now - days * day + jitter
          expect(matches('is_date_after', `-${days}d`, propertyTime / 1000)).toBe(jitter > 0)
          expect(matches('is_date_before', `${days}d`, new Date(propertyTime).toISOString())).toBe(jitter < 0)
        },
      ),
    )
    // months step back one at a time, the day clamped each step: Mar 31 − 1m is Feb 28
    expect(matches('is_date_exact', '-1m', '2026-02-28T12:00:00Z')).toBe(true)
    expect(matches('is_date_exact', '-1y', '2025-03-31T12:00:00Z')).toBe(true)
    expect(matches('is_date_after', '-10000d', '2000-01-01')).toBe(false)
  })
})
