import { openPostgres } from '../../adapters/postgres/connect.ts'
import { appStoreContract } from '../../tests/contracts/app-store.contract.ts'
import {
  createTestDatabase,
  postgresServerReachable,
  postgresServerUrl,
} from '../../tests/support/postgres-server.ts'
import { serviceAvailable } from '../../tests/support/services.ts'

appStoreContract('PGlite', async () => {
  const db = await openPostgres({ kind: 'pglite', dataDir: null })
  return { db, close: () => db.destroy() }
})

appStoreContract('PostgreSQL server', async () => {
  const problem = await postgresServerReachable()
  if (!serviceAvailable('PostgreSQL', problem === null, `${postgresServerUrl}: ${problem}`)) return null
  const database = await createTestDatabase('sluice_apps_test')
  const db = await openPostgres({ kind: 'pg', url: database.url })
  return {
    db,
    close: async () => {
      await db.destroy()
      await database.drop()
    },
  }
})
