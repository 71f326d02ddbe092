import { describe, expect, it } from 'vitest'
import type { FlagFilters } from '../../schema/flags.ts'
import { filterProblems, withDefaultConditions } from './filter-rules.ts'

describe('flag filter rules', () => {
  it('accept what PostHog accepts', () => {
    expect(
      filterProblems({
        groups: [
          {
            properties: [{ key: 'plan', value: 'pro', type: 'person' }],
            rollout_percentage: 50,
            variant: 'b',
          },
        ],
        multivariate: {
          variants: [
            { key: 'a', rollout_percentage: 33.33 },
            { key: 'b', rollout_percentage: 33.33 },
            { key: 'c', rollout_percentage: 33.34 },
          ],
        },
      }),
    ).toEqual([])
  })

  it('refuse, one sentence each: bad variants, unknown operators, and what sluice does not evaluate', () => {
    const filters = {
      groups: [
        {
          variant: 'missing',
          properties: [
            { key: 'id', value: 3, type: 'cohort' },
            { key: '12', value: true, type: 'flag', operator: 'flag_evaluates_to' },
            { key: 'plan', value: 'pro', operator: 'resembles' },
            { key: 'plan', operator: 'exact' },
          ],
        },
      ],
      multivariate: {
        variants: [
          { key: 'a', rollout_percentage: 60 },
          { key: 'a', rollout_percentage: 60 },
        ],
      },
      super_groups: [{ properties: [] }],
    } as FlagFilters
    expect(filterProblems(filters)).toEqual([
      'early access enrolment (super_groups) is not supported',
      'variant keys must be unique',
      'variant rollout percentages must sum to 100',
      'condition 1: variant "missing" is not one of the flag\'s variants',
      'condition 1: cohort filters are not supported (sluice has no cohorts)',
      'condition 1: flag dependency filters are not supported',
      'condition 1: unknown operator "flag_evaluates_to" on "12"',
      'condition 1: unknown operator "resembles" on "plan"',
      'condition 1: "plan" exact needs a value',
    ])
  })

  it('a flag without release conditions is on for everyone, as PostHog reads it', () => {
    expect(withDefaultConditions(undefined)).toEqual({
      groups: [{ properties: [], rollout_percentage: null }],
    })
    expect(withDefaultConditions({ payloads: { true: '1' } })).toEqual({
      payloads: { true: '1' },
      groups: [{ properties: [], rollout_percentage: null }],
    })
  })
})
