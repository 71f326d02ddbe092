import pg from 'pg'
import { DependencyUnavailableError } from '../../ports/failures.ts'
import { classifyDatabaseError, sqlStateOf } from '../../projections/postgres/database-errors.ts'

/** How long one try to reach the server may take; a firewalled host would otherwise hang for minutes. */
const connectTimeoutMs = 5000

/**
 * One try to log in to the PostgreSQL server of `url`: a server that is away (refused, unreachable,
 * starting up) is a DependencyUnavailableError, worth waiting for; anything else — no such
 * database, a refused login — is raised as pg reports it, because waiting will not change it.
 */
export async function reachPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('SELECT 1')
  } catch (error) {
    if (classifyDatabaseError(error) !== 'unavailable') throw error
    throw new DependencyUnavailableError(
      'postgres',
      `PostgreSQL is unavailable: ${(error as Error).message}`,
      {
        cause: error,
      },
    )
  } finally {
    await client.end().catch(() => {})
  }
}

/** The server refused to create the database sluice was pointed at (the user may not create one). */
export class CannotCreateDatabaseError extends Error {
  override readonly name = 'CannotCreateDatabaseError'
  constructor(
    readonly database: string,
    readonly user: string,
    options: { cause: unknown },
  ) {
    super(`PostgreSQL refused to create the database "${database}" for user "${user}"`, options)
  }
}

export const databaseNameOf = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1))
export const userOf = (url: string) => decodeURIComponent(new URL(url).username) || 'postgres'

/**
 * Creates the database `url` names, as `createdb` would, by connecting to the server's maintenance
 * database (`postgres`, else `template1`) with the same credentials. Returns false when it exists.
 */
export async function createDatabase(url: string): Promise<boolean> {
  const database = databaseNameOf(url)
  let lastError: unknown
  for (const maintenance of ['postgres', 'template1']) {
    const target = new URL(url)
    target.pathname = `/${maintenance}`
    const client = new pg.Client({
      connectionString: target.toString(),
      connectionTimeoutMillis: connectTimeoutMs,
    })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`)
      return true
    } catch (error) {
      const state = sqlStateOf(error)
      if (state === '42P04') return false // created meanwhile by someone else
      if (state === '42501') throw new CannotCreateDatabaseError(database, userOf(url), { cause: error })
      if (state !== '3D000') throw error
      lastError = error // no such maintenance database: try the next
    } finally {
      await client.end().catch(() => {})
    }
  }
  throw lastError
}
