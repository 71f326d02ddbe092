import { describe, expect, it } from 'vitest'
import { describeRollout, newFlagFilters, parseFilters } from './describe-flag.ts'

describe('a flag described in one line', () => {
  it('reads its release conditions', () => {
    expect(describeRollout(newFlagFilters)).toBe('100% of persons')
    expect(describeRollout({})).toBe('nobody (no release condition)')
    expect(
      describeRollout({
        groups: [{ properties: [{ key: 'email' }], rollout_percentage: 50 }, { rollout_percentage: null }],
      }),
    ).toBe('50% of persons matching 1 filter; or all of persons')
    expect(describeRollout({ aggregation_group_type_index: 0, groups: [{ properties: [{}, {}] }] })).toBe(
      'all of groups of type 0 matching 2 filters',
    )
    expect(
      describeRollout({
        groups: [{ rollout_percentage: 100 }],
        multivariate: {
          variants: [
            { key: 'control', rollout_percentage: 50 },
            { key: 'test', rollout_percentage: 50 },
          ],
        },
      }),
    ).toBe('100% of persons · variants control 50%, test 50%')
  })

  it('takes only a JSON object as release conditions, and says why not', () => {
    expect(parseFilters('{"groups":[]}')).toEqual({ filters: { groups: [] } })
    expect(parseFilters('{"groups":')).toMatchObject({ problem: expect.stringContaining('not JSON') })
    expect(parseFilters('[1]')).toMatchObject({ problem: expect.stringContaining('JSON object') })
    expect(parseFilters('null')).toMatchObject({ problem: expect.stringContaining('JSON object') })
  })
})
