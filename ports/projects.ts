/** Projects (PostHog's teams) and the keys that reach them. Authoritative in Postgres. */
export interface Project {
  id: number
  name: string
  apiToken: string
  anonymizeIps: boolean
  createdAt: string
}

/** A project and a personal API key made for it just now: the only time the key is known in plain. */
export interface IssuedCredentials {
  project: Project
  personalApiKey: string
}

/** What `sluice init` and `sluice start` show of a project: its key only if it was made just now. */
export interface ProjectCredentials {
  project: Project
  personalApiKey: string | null
}

/**
 * Personal API keys are kept as digests only: a store is given the key when it is made and when a
 * request presents it, never hands it back, and nothing at rest holds it in plain.
 */
export interface ProjectStore {
  /** Creates a project with the given (already generated) token and personal API key. */
  createProject(input: { name: string; apiToken: string; personalApiKey: string }): Promise<IssuedCredentials>
  /** Adds a personal API key to a project; `undefined` when no project has that id. */
  addPersonalApiKey(projectId: number, personalApiKey: string): Promise<IssuedCredentials | undefined>
  findByToken(apiToken: string): Promise<Project | undefined>
  get(id: number): Promise<Project | undefined>
  /** The project a personal API key belongs to. */
  findByPersonalApiKey(personalApiKey: string): Promise<Project | undefined>
  /** Every project, oldest first. */
  list(): Promise<Project[]>
  update(id: number, changes: { anonymizeIps?: boolean }): Promise<Project | undefined>
}
