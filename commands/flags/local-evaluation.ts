import { createHash } from 'node:crypto'
import type { FlagEvaluationStore, FlagStore } from '../../ports/flags.ts'

/**
 * What posthog-node polls for local evaluation (`GET /flags/definitions`, formerly
 * `/api/feature_flag/local_evaluation/`): the project's flags that are not deleted, in PostHog's
 * minimal serialisation, its group types, and no cohorts (sluice has none). The ETag is a digest
 * of the body, so an SDK that has these definitions gets 304.
 */
export async function localEvaluationDefinitions(
  stores: { flags: FlagStore; evaluation: FlagEvaluationStore },
  teamId: number,
): Promise<{ body: string; etag: string }> {
  const [flags, groupTypes] = await Promise.all([
    stores.flags.list(teamId),
    stores.evaluation.groupTypes(teamId),
  ])
  const body = JSON.stringify({
    flags: flags.map((flag) => ({
      id: flag.id,
      team_id: flag.teamId,
      name: flag.name,
      key: flag.key,
      filters: flag.filters,
      deleted: flag.deleted,
      active: flag.active,
      ensure_experience_continuity: flag.ensureExperienceContinuity,
      has_encrypted_payloads: false,
      version: flag.version,
      evaluation_runtime: 'all',
      evaluation_tags: [],
    })),
    group_type_mapping: Object.fromEntries(
      [...groupTypes].sort(([a], [b]) => a - b).map(([i, t]) => [String(i), t]),
    ),
    cohorts: {},
  })
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`
  return { body, etag }
}
