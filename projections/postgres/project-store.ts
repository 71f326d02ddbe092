import type { Kysely, Selectable } from 'kysely'
import type { Project, ProjectCredentials, ProjectStore } from '../../ports/projects.ts'
import type { PostgresTables } from '../../schema/postgres/tables.ts'

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
          .values({ secret: personalApiKey, project_id: row.id })
          .execute()
        return { project: toProject(row), personalApiKey }
      })
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
    async findByPersonalApiKey(secret) {
      const row = await db
        .selectFrom('personal_api_keys')
        .innerJoin('projects', 'projects.id', 'personal_api_keys.project_id')
        .selectAll('projects')
        .where('personal_api_keys.secret', '=', secret)
        .executeTakeFirst()
      return row && toProject(row)
    },
    async list() {
      const rows = await db
        .selectFrom('projects')
        .innerJoin('personal_api_keys', 'personal_api_keys.project_id', 'projects.id')
        .selectAll('projects')
        .select('personal_api_keys.secret')
        .orderBy('projects.id')
        .orderBy('personal_api_keys.id')
        .execute()
      const byProject = new Map<number, ProjectCredentials>()
      for (const row of rows) {
        if (!byProject.has(row.id))
          byProject.set(row.id, { project: toProject(row), personalApiKey: row.secret })
      }
      return [...byProject.values()]
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
