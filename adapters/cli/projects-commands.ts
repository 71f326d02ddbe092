import type { IssuedCredentials, Project, ProjectCredentials } from '../../ports/projects.ts'
import { postgresProjectStore } from '../../projections/postgres/project-store.ts'
import { describePostgres } from '../postgres/connect.ts'
import type { SluiceConfig } from '../runtime/config.ts'
import { createLogger } from '../runtime/logger.ts'
import { openBackends } from '../runtime/open-backends.ts'
import {
  createPersonalApiKey,
  createProject,
  credentialsJson,
  ensureDefaultProject,
  UnknownProjectError,
} from '../runtime/projects.ts'
import { runningSluice } from './running-sluice.ts'

/** Projects and their keys, through the sluice that holds the data dir, or opened here when none runs. */
interface ProjectAdmin {
  ensureDefaultProject(): Promise<{ credentials: ProjectCredentials; created: boolean }>
  createProject(name: string): Promise<IssuedCredentials>
  createPersonalApiKey(projectId: number | null): Promise<IssuedCredentials>
  /** Whether `init` created the PostgreSQL database. */
  createdDatabase: boolean
  close(): Promise<void>
}

/** Projects live in Postgres alone: nothing else is opened. */
const needs = { log: false, clickhouse: false } as const

async function openProjectAdmin(config: SluiceConfig, command: string, init: boolean): Promise<ProjectAdmin> {
  const running = runningSluice(config, needs)
  if (running) {
    const list = async () => (await running.get<{ results: Project[] }>('/_control/projects/')).results
    return {
      // a running sluice made its first project when it started
      ensureDefaultProject: async () => {
        const [first] = await list()
        if (first === undefined) throw new UnknownProjectError(null, [])
        return { credentials: { project: first, personalApiKey: null }, created: false }
      },
      createProject: (name) => running.post<IssuedCredentials>('/_control/projects/', { name }),
      createPersonalApiKey: async (projectId) => {
        const projects = await list()
        if (projectId !== null && !projects.some((p) => p.id === projectId))
          throw new UnknownProjectError(
            projectId,
            projects.map((p) => p.id),
          )
        return running.post<IssuedCredentials>('/_control/personal_api_keys/', { project_id: projectId })
      },
      createdDatabase: false,
      close: async () => {},
    }
  }
  const backends = await openBackends(config, needs, {
    command,
    logger: createLogger(config),
    createDataDir: init,
    createDatabase: init,
  })
  const projects = postgresProjectStore(backends.db)
  return {
    ensureDefaultProject: () => ensureDefaultProject(projects),
    createProject: (name) => createProject(projects, name),
    createPersonalApiKey: (projectId) => createPersonalApiKey(projects, projectId),
    createdDatabase: backends.createdDatabase,
    close: () => backends.close(),
  }
}

async function withProjectAdmin<T>(
  config: SluiceConfig,
  command: string,
  work: (admin: ProjectAdmin) => Promise<T>,
): Promise<T> {
  const admin = await openProjectAdmin(config, command, command === 'sluice init')
  try {
    return await work(admin)
  } finally {
    await admin.close()
  }
}

/** `sluice init`: the data dir (or the PostgreSQL database), its schema and a first project. */
export async function runInit(config: SluiceConfig, json: boolean): Promise<void> {
  const { credentials, created, createdDatabase } = await withProjectAdmin(
    config,
    'sluice init',
    async (admin) => ({ ...(await admin.ensureDefaultProject()), createdDatabase: admin.createdDatabase }),
  )
  const where =
    config.postgresUrl === null ? config.dataDir : describePostgres({ kind: 'pg', url: config.postgresUrl })
  // on stderr, so that --json's stdout stays one JSON document
  if (createdDatabase) console.error(`Created the database: ${where}`)
  print(credentials, json, created ? `Initialised ${where}` : `${where} is already initialised`)
}

export async function runProjectsCreate(config: SluiceConfig, name: string, json: boolean): Promise<void> {
  const credentials = await withProjectAdmin(config, 'sluice projects create', (admin) =>
    admin.createProject(name),
  )
  print(credentials, json, `Created project ${credentials.project.id} (${name})`)
}

export async function runKeysCreate(config: SluiceConfig, projectId: number | null, json: boolean) {
  const { project, personalApiKey } = await withProjectAdmin(config, 'sluice keys create', (admin) =>
    admin.createPersonalApiKey(projectId),
  )
  if (json) {
    console.log(JSON.stringify({ project_id: project.id, personal_api_key: personalApiKey }))
    return
  }
  console.log(`Created a personal API key for project ${project.id} (${project.name})`)
  console.log(`  personal API key:  ${personalApiKey}`)
  console.log('Keep it now: sluice stores only its digest and cannot show it again.')
}

function print(credentials: ProjectCredentials, json: boolean, headline: string) {
  if (json) {
    console.log(JSON.stringify(credentialsJson(credentials)))
    return
  }
  console.log(headline)
  console.log(`  project id:        ${credentials.project.id}`)
  console.log(`  project token:     ${credentials.project.apiToken}`)
  console.log(
    `  personal API key:  ${credentials.personalApiKey ?? 'shown once, when it was made; `sluice keys create` makes another'}`,
  )
}
