import { filterProblems, withDefaultConditions } from '../../domain/flags/filter-rules.ts'
import type { FlagChanges, FlagStore, NewFlag } from '../../ports/flags.ts'
import type { CreateFlagBody, FeatureFlag, FlagFilters, UpdateFlagBody } from '../../schema/flags.ts'
import { InvalidFlagError } from './errors.ts'

/**
 * Creating and changing a project's flags through the API: PostHog's filter rules are checked
 * before anything is stored, and `changed` tells the process's definitions cache at once.
 */
export interface ManageFlagsDeps {
  store: FlagStore
  changed(teamId: number): void
}

export async function createFlag(
  deps: ManageFlagsDeps,
  teamId: number,
  body: CreateFlagBody,
): Promise<FeatureFlag> {
  const flag: NewFlag = {
    key: body.key,
    name: body.name ?? '',
    filters: checked(withDefaultConditions(body.filters)),
    active: body.active ?? true,
    ensureExperienceContinuity: body.ensure_experience_continuity ?? false,
  }
  const created = await deps.store.create(teamId, flag)
  deps.changed(teamId)
  return created
}

/** undefined when the project has no such flag. */
export async function updateFlag(
  deps: ManageFlagsDeps,
  teamId: number,
  id: number,
  body: UpdateFlagBody,
): Promise<FeatureFlag | undefined> {
  const changes: FlagChanges = {
    key: body.key,
    name: body.name,
    filters: body.filters && checked(withDefaultConditions(body.filters)),
    active: body.active,
    deleted: body.deleted,
    ensureExperienceContinuity: body.ensure_experience_continuity,
  }
  const updated = await deps.store.update(teamId, id, changes)
  if (updated) deps.changed(teamId)
  return updated
}

/** PostHog never removes a flag: deleting marks it deleted (and frees its key). */
export function deleteFlag(
  deps: ManageFlagsDeps,
  teamId: number,
  id: number,
): Promise<FeatureFlag | undefined> {
  return updateFlag(deps, teamId, id, { deleted: true })
}

function checked(filters: FlagFilters): FlagFilters {
  const problems = filterProblems(filters)
  if (problems.length > 0) throw new InvalidFlagError(problems)
  return filters
}
