import { flagStoreContract } from '../../tests/contracts/flag-store.contract.ts'
import { onEveryPostgresAdapter } from '../../tests/contracts/postgres-adapters.ts'

onEveryPostgresAdapter(flagStoreContract, 'sluice_flags_test')
