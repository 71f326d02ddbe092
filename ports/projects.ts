/** Projects (PostHog's teams) and the keys that reach them. Authoritative in Postgres. */
export interface Project {
  id: number
  name: string
  apiToken: string
  anonymizeIps: boolean
  createdAt: string
}

export interface ProjectCredentials {
  project: Project
  personalApiKey: string
}

export interface ProjectStore {
  /** Creates a project with the given (already generated) token and personal API key. */
  createProject(input: {
    name: string
    apiToken: string
    personalApiKey: string
  }): Promise<ProjectCredentials>
  findByToken(apiToken: string): Promise<Project | undefined>
  get(id: number): Promise<Project | undefined>
  /** The project a personal API key belongs to. */
  findByPersonalApiKey(secret: string): Promise<Project | undefined>
  list(): Promise<ProjectCredentials[]>
  update(id: number, changes: { anonymizeIps?: boolean }): Promise<Project | undefined>
}
