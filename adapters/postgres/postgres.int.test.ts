import { postgresContract } from '../../tests/contracts/postgres.contract.ts'
import { onEveryPostgresAdapter } from '../../tests/contracts/postgres-adapters.ts'

onEveryPostgresAdapter(postgresContract)
