import type { FeatureFlag, FlagFilters, HashKeyOverride } from '../schema/flags.ts'

/** Feature flag definitions, per project (PostHog's team). Authoritative in Postgres. */
export interface FlagStore {
  /** The project's flags, oldest first; deleted ones only when asked for. */
  list(teamId: number, options?: { includeDeleted?: boolean }): Promise<FeatureFlag[]>
  get(teamId: number, id: number): Promise<FeatureFlag | undefined>
  /** Throws FlagKeyTakenError when a live flag of the project has the key. */
  create(teamId: number, flag: NewFlag): Promise<FeatureFlag>
  /** Bumps the version; throws FlagKeyTakenError when the change would give two live flags one key. */
  update(teamId: number, id: number, changes: FlagChanges): Promise<FeatureFlag | undefined>
}

export interface NewFlag {
  key: string
  name: string
  filters: FlagFilters
  active: boolean
  ensureExperienceContinuity: boolean
}

export type FlagChanges = Partial<NewFlag & { deleted: boolean }>

export class FlagKeyTakenError extends Error {
  override readonly name = 'FlagKeyTakenError'
  constructor(readonly key: string) {
    super(`a live feature flag already has the key "${key}"`)
  }
}

/** What flag evaluation reads from the person/group projection, and the continuity it keeps. */
export interface FlagEvaluationStore {
  /** The project's group types by index (`{"0": "company"}` in PostHog's responses). */
  groupTypes(teamId: number): Promise<Map<number, string>>
  /** The properties of the person a distinct id belongs to; null when it has none. */
  personProperties(teamId: number, distinctId: string): Promise<Record<string, unknown> | null>
  groupProperties(
    teamId: number,
    groups: readonly { groupTypeIndex: number; groupKey: string }[],
  ): Promise<{ groupTypeIndex: number; properties: Record<string, unknown> }[]>
  /** Every distinct id of the person each given id belongs to (ids without a person give none). */
  personDistinctIds(
    teamId: number,
    distinctIds: readonly string[],
  ): Promise<{ of: string; distinctId: string }[]>
  hashKeyOverrides(teamId: number, distinctIds: readonly string[]): Promise<HashKeyOverride[]>
  /** Adds overrides; one that exists already is kept as it is. */
  addHashKeyOverrides(teamId: number, overrides: readonly HashKeyOverride[]): Promise<void>
}
