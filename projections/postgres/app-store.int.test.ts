import { appStoreContract } from '../../tests/contracts/app-store.contract.ts'
import { onEveryPostgresAdapter } from '../../tests/contracts/postgres-adapters.ts'

onEveryPostgresAdapter(appStoreContract, 'sluice_apps_test')
