import type { ProjectCredentials } from '../../ports/projects.ts'
import { postgresProjectStore } from '../../projections/postgres/project-store.ts'
import { openPostgres } from '../postgres/connect.ts'
import { postgresConfig } from '../runtime/backends.ts'
import { type SluiceConfig, usesDataDir } from '../runtime/config.ts'
import { lockDataDir } from '../runtime/data-dir-lock.ts'
import {
  createPersonalApiKey,
  createProject,
  credentialsJson,
  ensureDefaultProject,
} from '../runtime/projects.ts'

export async function runInit(config: SluiceConfig, json: boolean): Promise<void> {
  const { credentials, created } = await withProjects(config, 'sluice init', ensureDefaultProject)
  print(
    credentials,
    json,
    created ? `Initialised ${config.dataDir}` : `${config.dataDir} is already initialised`,
  )
}

export async function runProjectsCreate(config: SluiceConfig, name: string, json: boolean): Promise<void> {
  const credentials = await withProjects(config, 'sluice projects create', (projects) =>
    createProject(projects, name),
  )
  print(credentials, json, `Created project ${credentials.project.id} (${name})`)
}

export async function runKeysCreate(config: SluiceConfig, projectId: number | null, json: boolean) {
  const { project, personalApiKey } = await withProjects(config, 'sluice keys create', (projects) =>
    createPersonalApiKey(projects, projectId),
  )
  if (json) {
    console.log(JSON.stringify({ project_id: project.id, personal_api_key: personalApiKey }))
    return
  }
  console.log(`Created a personal API key for project ${project.id} (${project.name})`)
  console.log(`  personal API key:  ${personalApiKey}`)
  console.log('Keep it now: sluice stores only its digest and cannot show it again.')
}

async function withProjects<T>(
  config: SluiceConfig,
  command: string,
  work: (projects: ReturnType<typeof postgresProjectStore>) => Promise<T>,
): Promise<T> {
  const lock =
    config.postgresUrl === null && usesDataDir(config) ? lockDataDir(config.dataDir, command) : null
  try {
    const db = await openPostgres(postgresConfig(config))
    try {
      return await work(postgresProjectStore(db))
    } finally {
      await db.destroy()
    }
  } finally {
    lock?.release()
  }
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
