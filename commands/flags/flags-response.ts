import type { MatchReason } from '../../domain/flags/evaluate-flag.ts'
import type { EvaluatedFlag, FlagsEvaluation } from './evaluate-flags.ts'

/**
 * The response shapes SDKs read (POSTHOG_BEHAVIOUR §8.2): `/flags?v=2` (posthog-js and posthog-node
 * today) gets the detailed `flags` map; `/flags` without a version and `/decide?v=3` get
 * `featureFlags` + `featureFlagPayloads`; `/decide` v1 only the enabled keys, v2 enabled keys with
 * their values; `/decide?v=4` and later the detailed map.
 */
export type FlagsResponseShape = 'detailed' | 'values_and_payloads' | 'enabled_keys' | 'enabled_values'

export function flagsResponseShape(
  endpoint: 'flags' | 'decide',
  version: string | undefined,
): FlagsResponseShape {
  const v = version !== undefined && /^\d+$/.test(version) ? Number(version) : 0
  if (endpoint === 'flags') return v >= 2 ? 'detailed' : 'values_and_payloads'
  if (v >= 4) return 'detailed'
  if (v === 3) return 'values_and_payloads'
  return v === 2 ? 'enabled_values' : 'enabled_keys'
}

const descriptions: Record<MatchReason, (index: number | null) => string> = {
  condition_match: (index) => `Matched condition set ${(index ?? 0) + 1}`,
  no_condition_match: () => 'No matching condition set',
  no_condition_match_groups_not_evaluated: () =>
    'No matching condition set (group conditions were not evaluated because no group type was provided)',
  out_of_rollout_bound: () => 'Out of rollout bound',
  no_group_type: () => 'No group type',
  holdout_condition_value: () => 'Holdout condition value',
}

/** The answer as JSON text: the detailed shape is written directly, as /flags?v=2 is the hot path. */
export function flagsResponseBody(
  evaluation: FlagsEvaluation,
  shape: FlagsResponseShape,
  extras: { requestId: string; evaluatedAt: number; config?: Record<string, unknown> },
): string {
  const common = { requestId: extras.requestId, evaluatedAt: extras.evaluatedAt, ...extras.config }
  const errors = { errorsWhileComputingFlags: evaluation.errorsWhileComputingFlags }
  switch (shape) {
    case 'detailed': {
      const flags = evaluation.flags.map((flag) => `${fixedTextsOf(flag).key}:${detailsText(flag)}`).join(',')
      const rest = JSON.stringify(common)
      return `{"errorsWhileComputingFlags":${evaluation.errorsWhileComputingFlags},"flags":{${flags}},${rest.slice(1)}`
    }
    case 'values_and_payloads': {
      const featureFlags: Record<string, boolean | string> = {}
      const featureFlagPayloads: Record<string, unknown> = {}
      for (const flag of evaluation.flags) {
        featureFlags[flag.key] = flagValue(flag)
        if ('match' in flag.outcome && flag.outcome.match.payload !== undefined)
          featureFlagPayloads[flag.key] = flag.outcome.match.payload
      }
      return JSON.stringify({ ...errors, featureFlags, featureFlagPayloads, ...common })
    }
    case 'enabled_keys':
      return JSON.stringify({ featureFlags: enabled(evaluation).map((flag) => flag.key), ...common })
    case 'enabled_values':
      return JSON.stringify({
        featureFlags: Object.fromEntries(enabled(evaluation).map((flag) => [flag.key, flagValue(flag)])),
        ...common,
      })
  }
}

function enabled(evaluation: FlagsEvaluation): EvaluatedFlag[] {
  return evaluation.flags.filter((flag) => 'match' in flag.outcome && flag.outcome.match.matches)
}

/** What both SDKs compute from the detailed shape: `variant ?? enabled`. */
function flagValue(flag: EvaluatedFlag): boolean | string {
  if (!('match' in flag.outcome)) return false
  return flag.outcome.match.variant ?? flag.outcome.match.matches
}

/** One flag of the detailed shape: `{key, enabled, variant, [failed,] reason, metadata}`. */
function detailsText(flag: EvaluatedFlag): string {
  const { key, metadata } = fixedTextsOf(flag)
  if ('failure' in flag.outcome) {
    const { code, description } = flag.outcome.failure
    const reason = `{"code":${JSON.stringify(code)},"condition_index":null,"description":${JSON.stringify(description)}}`
    return `{"key":${key},"enabled":false,"variant":null,"failed":true,"reason":${reason},"metadata":${metadata}null}}`
  }
  const { matches, variant, reason, conditionIndex, payload } = flag.outcome.match
  const variantText = variant === null ? 'null' : JSON.stringify(variant)
  const payloadText = payload === undefined ? 'null' : JSON.stringify(payload)
  return `{"key":${key},"enabled":${matches},"variant":${variantText},"reason":${reasonText(reason, conditionIndex)},"metadata":${metadata}${payloadText}}}`
}

/**
 * A flag version's key and metadata as JSON text, written once: /flags writes them for every flag
 * of every request, and they do not depend on the user. Flag ids are unique across projects.
 */
const fixedTexts = new Map<number, { version: number; key: string; metadata: string }>()

function fixedTextsOf(flag: EvaluatedFlag): { key: string; metadata: string } {
  let texts = fixedTexts.get(flag.id)
  if (texts === undefined || texts.version !== flag.version) {
    texts = {
      version: flag.version,
      key: JSON.stringify(flag.key),
      metadata: `{"id":${flag.id},"version":${flag.version},"description":null,"has_experiment":false,"payload":`,
    }
    fixedTexts.set(flag.id, texts)
  }
  return texts
}

/** The reason as JSON text, written once per reason and condition (fixed ASCII: nothing to escape). */
const reasonTexts = new Map<MatchReason, Map<number | null, string>>()

function reasonText(reason: MatchReason, conditionIndex: number | null): string {
  let byCondition = reasonTexts.get(reason)
  if (byCondition === undefined) {
    byCondition = new Map()
    reasonTexts.set(reason, byCondition)
  }
  let text = byCondition.get(conditionIndex)
  if (text === undefined) {
    const code = reason === 'no_condition_match_groups_not_evaluated' ? 'no_condition_match' : reason
    text = `{"code":"${code}","condition_index":${conditionIndex},"description":"${descriptions[reason](conditionIndex)}"}`
    byCondition.set(conditionIndex, text)
  }
  return text
}
