import { createHash } from 'node:crypto'
import type { Kysely, Selectable } from 'kysely'
import type { Project, ProjectStore } from '../../ports/projects.ts'
import type { PostgresTables } from '../../schema/postgres/tables.ts'

/**
 * What is kept of a personal API key: its SHA-256, in hex (migration 5 computes the same in SQL).
 * The keys are long random strings, so a digest looked up by value is enough; a slow salted hash
 * guards guessable passwords, which these are not.
 */
export function personalApiKeyDigest(personalApiKey: string): string {
  return createHash('sha256').update(personalApiKey).digest('hex')
}

export function postgresProjectStore(db: Kysely<PostgresTables>): ProjectStore {
  return {
    async createProject({ name, apiToken, personalApiKey }) {
      return db.transaction().execute(async (tx) => {
        const row = await tx
          .insertInto('projects')
          .values({ name, api_token: apiToken })
          .returningAll()
          .executeTakeFirstOrThrow()
        await tx
          .insertInto('personal_api_keys')
          .values({ key_sha256: personalApiKeyDigest(personalApiKey), project_id: row.id })
          .execute()
        return { project: toProject(row), personalApiKey }
      })
    },
    async addPersonalApiKey(projectId, personalApiKey) {
      const project = await this.get(projectId)
      if (project === undefined) return undefined
      await db
        .insertInto('personal_api_keys')
        .values({ key_sha256: personalApiKeyDigest(personalApiKey), project_id: projectId })
        .execute()
      return { project, personalApiKey }
    },
    async findByToken(apiToken) {
      const row = await db
        .selectFrom('projects')
        .selectAll()
        .where('api_token', '=', apiToken)
        .executeTakeFirst()
      return row && toProject(row)
    },
    async get(id) {
      const row = await db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst()
      return row && toProject(row)
    },
    async findByPersonalApiKey(personalApiKey) {
      const row = await db
        .selectFrom('personal_api_keys')
        .innerJoin('projects', 'projects.id', 'personal_api_keys.project_id')
        .selectAll('projects')
        .where('personal_api_keys.key_sha256', '=', personalApiKeyDigest(personalApiKey))
        .executeTakeFirst()
      return row && toProject(row)
    },
    async list() {
      const rows = await db.selectFrom('projects').selectAll().orderBy('id').execute()
      return rows.map(toProject)
    },
    async update(id, changes) {
      if (changes.anonymizeIps === undefined) return this.get(id)
      const row = await db
        .updateTable('projects')
        .set({ anonymize_ips: changes.anonymizeIps })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst()
      return row && toProject(row)
    },
  }
}

function toProject(row: Selectable<PostgresTables['projects']>): Project {
  return {
    id: row.id,
    name: row.name,
    apiToken: row.api_token,
    anonymizeIps: row.anonymize_ips,
    createdAt: row.created_at.toISOString(),
  }
}
