import { chooseOverrides, linkedIds, overridesToAdd } from '../../domain/flags/continuity.ts'
import { type EvaluationContext, evaluateFlag, type FlagMatch } from '../../domain/flags/evaluate-flag.ts'
import { personPropertiesFor, storedInputsNeeded } from '../../domain/flags/evaluation-inputs.ts'
import type { PreparedFlag } from '../../domain/flags/prepare-flag.ts'
import type { FlagEvaluationStore } from '../../ports/flags.ts'
import type { Logger } from '../../ports/logger.ts'
import type { FlagsRequest } from './decode-flags-request.ts'
import type { FlagDefinitionsCache, ProjectFlags } from './definitions-cache.ts'

export interface EvaluatedFlag {
  key: string
  id: number
  version: number
  /** The evaluation, or why there is none (the SDK then keeps what it had for this flag). */
  outcome: { match: FlagMatch } | { failure: { code: string; description: string } }
}

export interface FlagsEvaluation {
  flags: EvaluatedFlag[]
  /** Some flag could not be evaluated (its stored inputs were unreadable). */
  errorsWhileComputingFlags: boolean
}

export interface EvaluateFlagsDeps {
  definitions: FlagDefinitionsCache
  store: FlagEvaluationStore
  logger: Logger
}

/**
 * A project's flags for one request, as PostHog's flags service answers it: only the stored
 * person and group properties the request's own do not cover are read; continuity hash keys are
 * read (and, with `$anon_distinct_id`, written) when a continuity flag is among those evaluated.
 * Inactive and deleted flags are not in the answer. `now` anchors relative date filters.
 */
export async function evaluateFlags(
  deps: EvaluateFlagsDeps,
  teamId: number,
  request: FlagsRequest,
  now: number,
): Promise<FlagsEvaluation> {
  if (request.disableFlags) return { flags: [], errorsWhileComputingFlags: false }
  const project = await deps.definitions.forProject(teamId)
  const wanted = request.flagKeys && new Set(request.flagKeys)
  const flags = wanted ? project.flags.filter((flag) => wanted.has(flag.key)) : project.flags
  if (flags.length === 0) return { flags: [], errorsWhileComputingFlags: false }

  const { groupKeys, requestedGroupProperties } = groupsOf(request, project)
  const needs = storedInputsNeeded(flags, request.personProperties, requestedGroupProperties)
  const groupsToRead = needs.groupTypeIndexes.flatMap((groupTypeIndex) => {
    const groupKey = groupKeys.get(groupTypeIndex)
    return groupKey === undefined ? [] : [{ groupTypeIndex, groupKey }]
  })
  const reads = needs.personProperties || groupsToRead.length > 0 || needs.hashKeyOverrides
  const [storedPerson, storedGroups, overrides] = reads
    ? await Promise.all([
        needs.personProperties ? settle(deps.store.personProperties(teamId, request.distinctId)) : undefined,
        groupsToRead.length > 0 ? settle(deps.store.groupProperties(teamId, groupsToRead)) : undefined,
        needs.hashKeyOverrides ? settle(hashKeyOverrides(deps.store, teamId, request, project)) : undefined,
      ])
    : []

  // Stored group properties overlaid by the request's, as for persons.
  const groupProperties = new Map(requestedGroupProperties)
  if (storedGroups && 'value' in storedGroups)
    for (const { groupTypeIndex, properties } of storedGroups.value)
      groupProperties.set(groupTypeIndex, { ...properties, ...requestedGroupProperties.get(groupTypeIndex) })
  const context: EvaluationContext = {
    distinctId: request.distinctId,
    anonDistinctId: request.anonDistinctId,
    groupKeys,
    personProperties: personPropertiesFor(
      request.distinctId,
      storedPerson && 'value' in storedPerson ? storedPerson.value : undefined,
      request.personProperties,
    ),
    groupProperties,
    hashKeyOverrides: overrides && 'value' in overrides ? overrides.value : {},
    now,
  }

  const unreadable = {
    person: storedPerson !== undefined && 'error' in storedPerson,
    groups: storedGroups !== undefined && 'error' in storedGroups,
    overrides: overrides !== undefined && 'error' in overrides,
  }
  for (const read of [storedPerson, storedGroups, overrides])
    if (read && 'error' in read)
      deps.logger.warn(
        { err: read.error, teamId },
        'flags: stored inputs unreadable; affected flags reported failed',
      )
  const evaluated = flags.map((flag): EvaluatedFlag => {
    const failure = failureOf(flag, unreadable, request, requestedGroupProperties)
    return {
      key: flag.key,
      id: flag.id,
      version: flag.version,
      outcome: failure ? { failure } : { match: evaluateFlag(flag, context) },
    }
  })
  return {
    flags: evaluated,
    errorsWhileComputingFlags: evaluated.some((flag) => 'failure' in flag.outcome),
  }
}

/** The request's groups by group type index: keys that are non-empty text or numbers count. */
function groupsOf(request: FlagsRequest, project: ProjectFlags) {
  const groupKeys = new Map<number, string>()
  const requestedGroupProperties = new Map<number, Record<string, unknown>>()
  for (const [index, type] of project.groupTypes) {
    const key = request.groups[type]
    if ((typeof key === 'string' && key !== '') || (typeof key === 'number' && Number.isFinite(key)))
      groupKeys.set(index, String(key))
    const properties = request.groupProperties[type]
    if (properties) requestedGroupProperties.set(index, properties)
  }
  return { groupKeys, requestedGroupProperties }
}

/** A flag whose stored inputs could not be read is reported failed, not evaluated on partial data. */
function failureOf(
  flag: PreparedFlag,
  unreadable: { person: boolean; groups: boolean; overrides: boolean },
  request: FlagsRequest,
  requestedGroupProperties: ReadonlyMap<number, Record<string, unknown>>,
): { code: string; description: string } | null {
  if (unreadable.overrides && flag.ensureExperienceContinuity)
    return { code: 'hash_key_override_error', description: 'Hash key overrides could not be read' }
  if (!unreadable.person && !unreadable.groups) return null
  const needs = storedInputsNeeded([flag], request.personProperties, requestedGroupProperties)
  if (
    (unreadable.person && needs.personProperties) ||
    (unreadable.groups && needs.groupTypeIndexes.length > 0)
  )
    return { code: 'database_error', description: 'Stored person or group properties could not be read' }
  return null
}

/**
 * The continuity hash keys for this request's user. With `$anon_distinct_id`, every linked id
 * first gets the anonymous id for each continuity flag it has none for (for all the project's
 * continuity flags, as PostHog writes them).
 */
async function hashKeyOverrides(
  store: FlagEvaluationStore,
  teamId: number,
  request: FlagsRequest,
  project: ProjectFlags,
): Promise<Record<string, string>> {
  const anon = request.anonDistinctId
  const requested =
    anon === null || anon === request.distinctId ? [request.distinctId] : [request.distinctId, anon]
  const ids = linkedIds(request.distinctId, anon, await store.personDistinctIds(teamId, requested))
  const stored = await store.hashKeyOverrides(teamId, [...ids.keys()])
  if (anon === null) return chooseOverrides(ids, stored)
  const added = overridesToAdd(anon, ids, project.continuityFlagKeys, stored)
  await store.addHashKeyOverrides(teamId, added)
  return chooseOverrides(ids, [...stored, ...added])
}

type Settled<T> = { value: T } | { error: unknown }

function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  )
}
