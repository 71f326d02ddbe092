import { describe, expect, it } from 'vitest'
import type { FlagsEvaluation } from './evaluate-flags.ts'
import { flagsResponseBody, flagsResponseShape } from './flags-response.ts'

const evaluation: FlagsEvaluation = {
  errorsWhileComputingFlags: true,
  flags: [
    {
      key: 'on',
      id: 1,
      version: 2,
      outcome: {
        match: {
          matches: true,
          variant: null,
          reason: 'condition_match',
          conditionIndex: 0,
          payload: '{"a":1}',
        },
      },
    },
    {
      key: 'variant',
      id: 2,
      version: 1,
      outcome: {
        match: {
          matches: true,
          variant: 'blue',
          reason: 'condition_match',
          conditionIndex: 1,
          payload: undefined,
        },
      },
    },
    {
      key: 'off',
      id: 3,
      version: 1,
      outcome: {
        match: {
          matches: false,
          variant: null,
          reason: 'no_condition_match_groups_not_evaluated',
          conditionIndex: 0,
          payload: undefined,
        },
      },
    },
    {
      key: 'failed',
      id: 4,
      version: 1,
      outcome: { failure: { code: 'database_error', description: 'unreadable' } },
    },
  ],
}
const extras = { requestId: '0190f0a0-0000-4000-8000-000000000000', evaluatedAt: 1_700_000_000_000 }

describe('flags response shapes', () => {
  it('each endpoint and version gets the shape its readers expect', () => {
    expect([
      flagsResponseShape('flags', '2'),
      flagsResponseShape('flags', '3'),
      flagsResponseShape('flags', undefined),
      flagsResponseShape('flags', 'x'),
      flagsResponseShape('decide', undefined),
      flagsResponseShape('decide', '2'),
      flagsResponseShape('decide', '3'),
      flagsResponseShape('decide', '4'),
    ]).toEqual([
      'detailed',
      'detailed',
      'values_and_payloads',
      'values_and_payloads',
      'enabled_keys',
      'enabled_values',
      'values_and_payloads',
      'detailed',
    ])
  })

  it('/flags?v=2: details with reasons and metadata; a failed flag says so', () => {
    const body = JSON.parse(flagsResponseBody(evaluation, 'detailed', extras)) as {
      flags: Record<string, unknown>
    }
    expect(body).toMatchObject({ errorsWhileComputingFlags: true, ...extras })
    expect(body.flags).toEqual({
      on: {
        key: 'on',
        enabled: true,
        variant: null,
        reason: { code: 'condition_match', condition_index: 0, description: 'Matched condition set 1' },
        metadata: { id: 1, version: 2, description: null, has_experiment: false, payload: '{"a":1}' },
      },
      variant: expect.objectContaining({ enabled: true, variant: 'blue' }),
      off: expect.objectContaining({
        enabled: false,
        variant: null,
        reason: {
          code: 'no_condition_match',
          condition_index: 0,
          description:
            'No matching condition set (group conditions were not evaluated because no group type was provided)',
        },
      }),
      failed: expect.objectContaining({
        enabled: false,
        failed: true,
        reason: expect.objectContaining({ code: 'database_error' }),
      }),
    })
  })

  it('a flag edited since the last answer is written as it is now, key and version', () => {
    const details = (version: number, key: string) => {
      const [first] = evaluation.flags
      const flags = [{ ...first!, key, version }]
      const body = JSON.parse(flagsResponseBody({ ...evaluation, flags }, 'detailed', extras)) as {
        flags: Record<string, { key: string; metadata: { version: number } }>
      }
      return body.flags
    }
    expect(details(2, 'on')).toMatchObject({ on: { key: 'on', metadata: { version: 2 } } })
    expect(details(3, 'renamed')).toEqual({
      renamed: expect.objectContaining({ key: 'renamed', metadata: expect.objectContaining({ version: 3 }) }),
    })
  })

  it('/decide?v=3 and /flags v1: values and payloads; /decide v1 and v2: only enabled flags', () => {
    expect(
      JSON.parse(
        flagsResponseBody(evaluation, 'values_and_payloads', {
          ...extras,
          config: { hasFeatureFlags: true },
        }),
      ),
    ).toEqual({
      errorsWhileComputingFlags: true,
      featureFlags: { on: true, variant: 'blue', off: false, failed: false },
      featureFlagPayloads: { on: '{"a":1}' },
      hasFeatureFlags: true,
      ...extras,
    })
    expect(JSON.parse(flagsResponseBody(evaluation, 'enabled_keys', extras)).featureFlags).toEqual([
      'on',
      'variant',
    ])
    expect(JSON.parse(flagsResponseBody(evaluation, 'enabled_values', extras)).featureFlags).toEqual({
      on: true,
      variant: 'blue',
    })
  })
})
