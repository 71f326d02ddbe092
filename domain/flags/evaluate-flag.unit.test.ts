import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { FeatureFlag, FlagFilters } from '../../schema/flags.ts'
import { bucketHash } from './bucket-hash.ts'
import { type EvaluationContext, evaluateFlag } from './evaluate-flag.ts'
import { personPropertiesFor } from './evaluation-inputs.ts'
import { prepareFlag } from './prepare-flag.ts'

function flag(key: string, filters: FlagFilters, extra: Partial<FeatureFlag> = {}) {
  return prepareFlag({
    id: 7,
    teamId: 1,
    key,
    name: '',
    filters,
    active: true,
    deleted: false,
    ensureExperienceContinuity: false,
    version: 3,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...extra,
  })
}

function context(distinctId: string, overrides: Partial<EvaluationContext> = {}): EvaluationContext {
  return {
    distinctId,
    anonDistinctId: null,
    groupKeys: new Map(),
    personProperties: {},
    groupProperties: new Map(),
    hashKeyOverrides: {},
    now: Date.parse('2026-06-01T00:00:00Z'),
    ...overrides,
  }
}

const value = (match: { matches: boolean; variant: string | null }) => match.variant ?? match.matches

describe('PostHog hashing', () => {
  it("gives the bucket numbers of PostHog's own test vectors", () => {
    expect(bucketHash('holdout-some_distinct_id')).toBe(0.7270002403585725)
    expect(bucketHash('holdout-test-identifier')).toBe(0.4493881716040236)
    expect(bucketHash('holdout-example_id')).toBe(0.9402003475831224)
    expect(bucketHash('holdout-example_id2')).toBe(0.6292740389966519)
  })

  it('is the first 60 bits of SHA-1 as a fraction, rounded once', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        const hex = createHash('sha1').update(text, 'utf8').digest('hex').slice(0, 15)
        expect(bucketHash(text)).toBe(Number(BigInt(`0x${hex}`)) / 2 ** 60)
      }),
    )
  })

  // The consistency cases every PostHog library tests against (the first ids of each).
  it('puts the same ids inside a 45% rollout as every PostHog library', () => {
    const simple = flag('simple-flag', { groups: [{ properties: [], rollout_percentage: 45 }] })
    const expected = 'FTTFTFFTFTFTTFTFFFTTFTFFTFTTFFFT'
    const got = [...expected].map((_, i) =>
      evaluateFlag(simple, context(`distinct_id_${i}`)).matches ? 'T' : 'F',
    )
    expect(got.join('')).toBe(expected)
  })

  it('gives the same ids the same variants as every PostHog library', () => {
    const multivariate = flag('multivariate-flag', {
      groups: [{ properties: [], rollout_percentage: 55 }],
      multivariate: {
        variants: [
          { key: 'first-variant', rollout_percentage: 50 },
          { key: 'second-variant', rollout_percentage: 20 },
          { key: 'third-variant', rollout_percentage: 20 },
          { key: 'fourth-variant', rollout_percentage: 5 },
          { key: 'fifth-variant', rollout_percentage: 5 },
        ],
      },
    })
    const expected = [
      'second-variant',
      'second-variant',
      'first-variant',
      false,
      false,
      'second-variant',
      'first-variant',
      false,
      false,
      false,
      'first-variant',
      'third-variant',
      false,
      'first-variant',
      'second-variant',
      'first-variant',
      false,
      false,
      'fourth-variant',
      'first-variant',
      false,
      'third-variant',
      false,
      false,
    ]
    const got = expected.map((_, i) => value(evaluateFlag(multivariate, context(`distinct_id_${i}`))))
    expect(got).toEqual(expected)
  })
})

describe('release conditions', () => {
  const beta = flag('beta', {
    groups: [
      {
        properties: [{ key: 'email', operator: 'icontains', value: '@corp.com', type: 'person' }],
        rollout_percentage: 0,
      },
      { properties: [{ key: 'plan', value: 'pro', type: 'person' }], variant: 'green' },
      { properties: [], rollout_percentage: 100 },
    ],
    multivariate: {
      variants: [
        { key: 'green', rollout_percentage: 50 },
        { key: 'blue', rollout_percentage: 50 },
      ],
    },
    payloads: { green: '{"color":"#0f0"}', blue: '{"color":"#00f"}' },
  })

  it('are tried in order: the first that matches decides, with its variant override and payload', () => {
    const pro = evaluateFlag(beta, context('u1', { personProperties: { plan: 'PRO', email: 'a@corp.com' } }))
    expect(pro).toEqual({
      matches: true,
      variant: 'green',
      reason: 'condition_match',
      conditionIndex: 1,
      payload: '{"color":"#0f0"}',
    })
    const anyone = evaluateFlag(beta, context('u1'))
    expect(anyone.reason).toBe('condition_match')
    expect(anyone.conditionIndex).toBe(2)
    expect(['green', 'blue']).toContain(anyone.variant)
  })

  it('report the most telling reason when none matches, and never a variant', () => {
    const narrow = flag('narrow', {
      groups: [{ properties: [{ key: 'plan', value: 'pro' }] }, { properties: [], rollout_percentage: 0 }],
      multivariate: { variants: [{ key: 'only', rollout_percentage: 100 }] },
    })
    expect(evaluateFlag(narrow, context('u1'))).toEqual({
      matches: false,
      variant: null,
      reason: 'out_of_rollout_bound',
      conditionIndex: 1,
      payload: undefined,
    })
    expect(evaluateFlag(flag('none', { groups: [] }), context('u1')).reason).toBe('no_group_type')
  })

  it('a rollout takes a share of users that grows with the percentage, and keeps those it had', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a]
        const at = (percentage: number) => flag('grow', { groups: [{ rollout_percentage: percentage }] })
        for (let i = 0; i < 20; i++) {
          const user = context(`user-${i}`)
          if (evaluateFlag(at(low), user).matches) expect(evaluateFlag(at(high), user).matches).toBe(true)
        }
      }),
      { numRuns: 30 },
    )
  })
})

describe('group flags', () => {
  const company = flag('company-beta', {
    aggregation_group_type_index: 0,
    groups: [
      { properties: [{ key: 'size', operator: 'gt', value: 10, type: 'group', group_type_index: 0 }] },
    ],
  })

  it('bucket by the group key and read the group properties', () => {
    const inGroup = context('u1', {
      groupKeys: new Map([[0, 'acme']]),
      groupProperties: new Map([[0, { size: 50 }]]),
    })
    expect(evaluateFlag(company, inGroup).matches).toBe(true)
    const small = { ...inGroup, groupProperties: new Map([[0, { size: 5 }]]) }
    expect(evaluateFlag(company, small).reason).toBe('no_condition_match')
  })

  it('are off with no_group_type when the request names no such group', () => {
    expect(evaluateFlag(company, context('u1'))).toMatchObject({ matches: false, reason: 'no_group_type' })
  })

  it('give every member of a group the same answer, whoever asks', () => {
    const half = flag('half', { aggregation_group_type_index: 1, groups: [{ rollout_percentage: 50 }] })
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string({ minLength: 1 }), (a, b, key) => {
        const of = (id: string) => evaluateFlag(half, context(id, { groupKeys: new Map([[1, key]]) })).matches
        expect(of(a)).toBe(of(b))
      }),
    )
  })

  it('mixed targeting: a condition of its own aggregation that cannot run is reported as such', () => {
    const mixed = flag('mixed', {
      groups: [
        { properties: [{ key: 'plan', value: 'pro' }] },
        { aggregation_group_type_index: 0, properties: [] },
      ],
    })
    expect(evaluateFlag(mixed, context('u1')).reason).toBe('no_condition_match_groups_not_evaluated')
    expect(evaluateFlag(mixed, context('u1', { groupKeys: new Map([[0, 'acme']]) }))).toMatchObject({
      matches: true,
      conditionIndex: 1,
    })
  })
})

describe('holdouts and continuity', () => {
  it('a holdout takes its share out before any condition, into holdout-<id>', () => {
    const held = flag('experiment', {
      groups: [{ rollout_percentage: 100 }],
      holdout: { id: 4, exclusion_percentage: 50 },
    })
    for (const id of ['some_distinct_id', 'test-identifier', 'example_id', 'example_id2']) {
      const result = evaluateFlag(held, context(id))
      // PostHog's vectors for holdout-<id>: 0.727, 0.449, 0.940, 0.629
      expect(value(result)).toBe(bucketHash(`holdout-${id}`) <= 0.5 ? 'holdout-4' : true)
    }
  })

  it('a continuity flag hashes the stored override, else the anonymous id, else the distinct id', () => {
    const split = {
      groups: [{ rollout_percentage: 100 }],
      multivariate: {
        variants: [
          { key: 'a', rollout_percentage: 50 },
          { key: 'b', rollout_percentage: 50 },
        ],
      },
    }
    const continuous = flag('exp', split, { ensureExperienceContinuity: true })
    const plain = flag('exp', split)
    fc.assert(
      fc.property(fc.uuid(), fc.string({ minLength: 1 }), (anon, user) => {
        const before = value(evaluateFlag(continuous, context(anon)))
        expect(value(evaluateFlag(continuous, context(user, { anonDistinctId: anon })))).toBe(before)
        expect(value(evaluateFlag(continuous, context(user, { hashKeyOverrides: { exp: anon } })))).toBe(
          before,
        )
        expect(value(evaluateFlag(plain, context(user, { anonDistinctId: anon })))).toBe(
          value(evaluateFlag(plain, context(user))),
        )
      }),
    )
  })
})

describe('person properties flags match against', () => {
  it('are the stored ones overlaid by the request, with distinct_id and missing $initial_ ones filled in', () => {
    expect(
      personPropertiesFor(
        'u1',
        { plan: 'free', $initial_browser: 'Firefox' },
        { plan: 'pro', $browser: 'Chrome' },
      ),
    ).toEqual({ plan: 'pro', $initial_browser: 'Firefox', $browser: 'Chrome', distinct_id: 'u1' })
    expect(personPropertiesFor('u1', undefined, { utm_source: 'x' })).toEqual({
      utm_source: 'x',
      $initial_utm_source: 'x',
    })
  })
})
