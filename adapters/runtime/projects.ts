import type { ProjectCredentials, ProjectStore } from '../../ports/projects.ts'
import { newPersonalApiKey, newProjectToken } from './credentials.ts'

/** The first project of a data dir, created once; later calls return the existing one. */
export async function ensureDefaultProject(
  projects: ProjectStore,
): Promise<{ credentials: ProjectCredentials; created: boolean }> {
  const existing = await projects.list()
  const first = existing[0]
  if (first) return { credentials: first, created: false }
  const credentials = await createProject(projects, 'Default project')
  return { credentials, created: true }
}

export function createProject(projects: ProjectStore, name: string): Promise<ProjectCredentials> {
  return projects.createProject({ name, apiToken: newProjectToken(), personalApiKey: newPersonalApiKey() })
}

/** The JSON that `sluice init --json` and `sluice projects create --json` print (API.md). */
export function credentialsJson(credentials: ProjectCredentials) {
  return {
    project_id: credentials.project.id,
    project_token: credentials.project.apiToken,
    personal_api_key: credentials.personalApiKey,
  }
}
