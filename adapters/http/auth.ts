import type { FastifyRequest } from 'fastify'
import type { Project, ProjectStore } from '../../ports/projects.ts'
import { httpErrors } from './errors.ts'

/**
 * Resolves `Authorization: Bearer <personal API key>` to the one project the key may see, and
 * refuses any other project id: a key never reads another project's data.
 */
export async function authorizedProject(
  request: FastifyRequest,
  projects: ProjectStore,
  projectId: string,
): Promise<Project> {
  const project = await projectOfKey(request, projects)
  if (String(project.id) !== projectId) throw httpErrors.wrongProject(projectId)
  return project
}

/** The project of the request's personal API key: what a client that has only the key starts from. */
export async function projectOfKey(request: FastifyRequest, projects: ProjectStore): Promise<Project> {
  const key = bearerToken(request)
  if (key === null) throw httpErrors.missingApiKey()
  let project: Project | undefined
  try {
    project = await projects.findByPersonalApiKey(key)
  } catch (error) {
    throw Object.assign(httpErrors.unavailable('The project store is unreachable; retry shortly.'), {
      cause: error,
    })
  }
  if (project === undefined) throw httpErrors.invalidApiKey()
  return project
}

/** The secret of `Authorization: Bearer <secret>`, or null. */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null
  return match?.[1] ?? null
}
