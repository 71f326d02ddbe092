import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { DependencyUnavailableError } from '../../ports/failures.ts'
import { classifyDatabaseError } from '../../projections/postgres/database-errors.ts'
import {
  createTestDatabase,
  postgresServerReachable,
  postgresServerUrl,
} from '../../tests/support/postgres-server.ts'
import { serviceAvailable } from '../../tests/support/services.ts'
import { openPostgres } from './connect.ts'

describe('database failures reach callers by what they are', () => {
  it('a server nobody answers at is a dependency that is away', async () => {
    const error = await openPostgres({
      kind: 'pg',
      url: 'postgres://postgres@127.0.0.1:1/sluice_test',
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DependencyUnavailableError)
    expect((error as DependencyUnavailableError).dependency).toBe('postgres')
  })

  it('rows the database refuses are refused, not unavailable, on PGlite and PostgreSQL', async () => {
    const problem = await postgresServerReachable()
    const server = serviceAvailable('PostgreSQL', problem === null, `${postgresServerUrl}: ${problem}`)
      ? await createTestDatabase()
      : null
    const configs: ({ kind: 'pglite'; dataDir: null } | { kind: 'pg'; url: string })[] = [
      { kind: 'pglite', dataDir: null },
      ...(server ? [{ kind: 'pg' as const, url: server.url }] : []),
    ]
    try {
      for (const config of configs) {
        const db = await openPostgres(config)
        try {
          const refused = await sql`SELECT '\\ud800'::jsonb`.execute(db).catch((e: unknown) => e)
          expect(refused).not.toBeInstanceOf(DependencyUnavailableError)
          expect(classifyDatabaseError(refused)).toBe('refused')
        } finally {
          await db.destroy()
        }
      }
    } finally {
      await server?.drop()
    }
  })
})
