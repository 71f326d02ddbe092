import type { IssuedCredentials, ProjectCredentials, ProjectStore } from '../../ports/projects.ts'
import { newPersonalApiKey, newProjectToken } from './credentials.ts'

/** `sluice keys create --project N` names a project that is not there. */
export class UnknownProjectError extends Error {
  override readonly name = 'UnknownProjectError'
  constructor(
    readonly projectId: number | null,
    readonly existing: readonly number[],
  ) {
    super(
      existing.length === 0
        ? 'there is no project yet; `sluice init` creates the first'
        : `there is no project ${projectId}; the projects are ${existing.join(', ')}`,
    )
  }
}

/**
 * The first project, created once. Later calls return it without a personal API key: only the
 * key's digest is kept, so a key is shown once, when it is made (`sluice keys create` makes more).
 */
export async function ensureDefaultProject(
  projects: ProjectStore,
): Promise<{ credentials: ProjectCredentials; created: boolean }> {
  const [first] = await projects.list()
  if (first) return { credentials: { project: first, personalApiKey: null }, created: false }
  const credentials = await createProject(projects, 'Default project')
  return { credentials, created: true }
}

export function createProject(projects: ProjectStore, name: string): Promise<IssuedCredentials> {
  return projects.createProject({ name, apiToken: newProjectToken(), personalApiKey: newPersonalApiKey() })
}

/** A new personal API key for a project, by default the first. */
export async function createPersonalApiKey(
  projects: ProjectStore,
  projectId: number | null,
): Promise<IssuedCredentials> {
  const id = projectId ?? (await projects.list())[0]?.id
  const issued = id === undefined ? undefined : await projects.addPersonalApiKey(id, newPersonalApiKey())
  if (issued === undefined)
    throw new UnknownProjectError(
      projectId,
      (await projects.list()).map((p) => p.id),
    )
  return issued
}

/**
 * The JSON that `sluice init --json` and `sluice projects create --json` print; the key only when
 * it was made just now.
 */
export function credentialsJson(credentials: ProjectCredentials) {
  return {
    project_id: credentials.project.id,
    project_token: credentials.project.apiToken,
    ...(credentials.personalApiKey !== null && { personal_api_key: credentials.personalApiKey }),
  }
}
