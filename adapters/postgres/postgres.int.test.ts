import { postgresContract } from '../../tests/contracts/postgres.contract.ts'
import {
  createTestDatabase,
  postgresServerReachable,
  postgresServerUrl,
} from '../../tests/support/postgres-server.ts'
import { serviceAvailable } from '../../tests/support/services.ts'
import { openPostgres } from './connect.ts'

postgresContract('PGlite', async () => {
  const db = await openPostgres({ kind: 'pglite', dataDir: null })
  return { db, close: () => db.destroy() }
})

postgresContract('PostgreSQL server', async () => {
  const problem = await postgresServerReachable()
  if (!serviceAvailable('PostgreSQL', problem === null, `${postgresServerUrl}: ${problem}`)) return null
  const database = await createTestDatabase()
  const db = await openPostgres({ kind: 'pg', url: database.url })
  return {
    db,
    close: async () => {
      await db.destroy()
      await database.drop()
    },
  }
})
