import { afterAll, beforeAll, it } from 'vitest'
import { type Db, openPostgres } from '../../adapters/postgres/connect.ts'
import { postgresProjectStore } from '../../projections/postgres/project-store.ts'
import { createTestDatabase, postgresServerReachable, postgresServerUrl } from '../support/postgres-server.ts'
import { serviceAvailable } from '../support/services.ts'

export type OpenedDatabase = { db: Db; close: () => Promise<void> }
/** Opens a migrated database, or answers null when its server is away (a skip; a failure in CI). */
export type OpenDatabase = () => Promise<OpenedDatabase | null>

/**
 * Runs a contract on every Postgres adapter with the same kysely code: PGlite in memory, and a
 * database of its own (named from `databasePrefix`) on the PostgreSQL server.
 */
export function onEveryPostgresAdapter(
  contract: (name: string, open: OpenDatabase) => void,
  databasePrefix = 'sluice_test',
): void {
  contract('PGlite', async () => {
    const db = await openPostgres({ kind: 'pglite', dataDir: null })
    return { db, close: () => db.destroy() }
  })
  contract('PostgreSQL server', async () => {
    const problem = await postgresServerReachable()
    if (!serviceAvailable('PostgreSQL', problem === null, `${postgresServerUrl}: ${problem}`)) return null
    const database = await createTestDatabase(databasePrefix)
    const db = await openPostgres({ kind: 'pg', url: database.url })
    return {
      db,
      close: async () => {
        await db.destroy()
        await database.drop()
      },
    }
  })
}

/**
 * Within a describe block: opens the database, makes two projects whose ids fill `teams` (for
 * tests that one project's rows never show in the other), and a `test` that skips when the
 * database is away.
 */
export function withTwoProjects(open: OpenDatabase, tokenPrefix: string) {
  let opened: OpenedDatabase | null = null
  const teams: [number, number] = [0, 0]
  beforeAll(async () => {
    opened = await open()
    if (opened === null) return
    const projects = postgresProjectStore(opened.db)
    for (const [index, suffix] of ['a', 'b'].entries()) {
      const made = await projects.createProject({
        name: suffix,
        apiToken: `phc_${tokenPrefix}_${suffix}`,
        personalApiKey: `phx_${tokenPrefix}_${suffix}`,
      })
      teams[index] = made.project.id
    }
  })
  afterAll(async () => {
    await opened?.close()
  })
  const test = (title: string, body: (db: Db) => Promise<void>) =>
    it(title, async (ctx) => {
      if (opened === null) return ctx.skip()
      await body(opened.db)
    })
  return { teams, test }
}
