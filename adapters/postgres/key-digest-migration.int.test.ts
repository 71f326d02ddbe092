import { PGlite } from '@electric-sql/pglite'
import { Kysely, PGliteDialect, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { personalApiKeyDigest, postgresProjectStore } from '../../projections/postgres/project-store.ts'
import { postgresMigrations } from '../../schema/postgres/migrations.ts'
import type { PostgresTables } from '../../schema/postgres/tables.ts'
import {
  createTestDatabase,
  postgresServerReachable,
  postgresServerUrl,
} from '../../tests/support/postgres-server.ts'
import { serviceAvailable } from '../../tests/support/services.ts'
import { migratePostgres } from './migrate.ts'

type Db = Kysely<PostgresTables>

const plainKeys = ['phx_plain_key_one_of_an_older_release', 'phx_plain_key_two_of_an_older_release']

/** A database as a release before migration 5 left it: personal API keys stored in plain. */
async function asAnOlderReleaseLeftIt(db: Db): Promise<void> {
  await migratePostgres(
    db,
    postgresMigrations.filter((m) => m.version < 5),
  )
  await sql`INSERT INTO projects (name, api_token) VALUES ('old', 'phc_older_release')`.execute(db)
  for (const key of plainKeys)
    await sql`INSERT INTO personal_api_keys (secret, project_id) VALUES (${key}, 1)`.execute(db)
}

/** Fresh, unmigrated databases: in-memory PGlite, and one of its own on the PostgreSQL server. */
const databases: [string, () => Promise<{ db: Db; close: () => Promise<void> } | null>][] = [
  [
    'PGlite',
    async () => {
      const db = new Kysely<PostgresTables>({ dialect: new PGliteDialect({ pglite: new PGlite() }) })
      return { db, close: () => db.destroy() }
    },
  ],
  [
    'the PostgreSQL server',
    async () => {
      const problem = await postgresServerReachable()
      if (!serviceAvailable('PostgreSQL', problem === null, `${postgresServerUrl}: ${problem}`)) return null
      const database = await createTestDatabase()
      const db = new Kysely<PostgresTables>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url }) }),
      })
      return {
        db,
        close: async () => {
          await db.destroy()
          await database.drop()
        },
      }
    },
  ],
]

describe.each(databases)('migration 5 on %s', (_name, open) => {
  it('turns the plain personal API keys an older release stored into digests that still work', async (ctx) => {
    const opened = await open()
    if (opened === null) return ctx.skip()
    const { db } = opened
    try {
      await asAnOlderReleaseLeftIt(db)
      expect(await migratePostgres(db)).toContain(5)

      const rows = await sql<{ row: string }>`SELECT k::text AS row FROM personal_api_keys k`.execute(db)
      expect(rows.rows).toHaveLength(plainKeys.length)
      for (const { row } of rows.rows) expect(row).not.toContain('phx_')
      const projects = postgresProjectStore(db)
      for (const key of plainKeys) {
        expect(rows.rows.map(({ row }) => row).join()).toContain(personalApiKeyDigest(key))
        expect(await projects.findByPersonalApiKey(key)).toMatchObject({
          id: 1,
          apiToken: 'phc_older_release',
        })
      }
      expect(await projects.findByPersonalApiKey(personalApiKeyDigest(plainKeys[0]!))).toBeUndefined()
    } finally {
      await opened.close()
    }
  })
})
