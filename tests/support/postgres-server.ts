import pg from 'pg'

/** The PostgreSQL server tests use; override with SLUICE_TEST_POSTGRES_URL. */
export const postgresServerUrl =
  process.env.SLUICE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export async function postgresServerReachable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: postgresServerUrl, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return null
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * Creates a database of its own for one test file and returns its URL and a function that drops it.
 * Refuses any name that does not say it is a test database, so no test ever touches real data.
 */
export async function createTestDatabase(
  prefix = 'sluice_test',
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}`
  if (!/^[a-z0-9_]*test[a-z0-9_]*$/.test(name))
    throw new Error(`refusing to use a database not named as a test: ${name}`)
  const admin = new pg.Client({ connectionString: postgresServerUrl })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(postgresServerUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: postgresServerUrl })
      await client.connect()
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await client.end()
      }
    },
  }
}
