import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { logContract } from '../../../tests/contracts/log.contract.ts'
import { createEmbeddedLog } from './embedded-log.ts'

logContract('embedded LMDB log', async () => {
  const path = mkdtempSync(join(tmpdir(), 'sluice-log-'))
  const fixture = {
    log: createEmbeddedLog({ path }),
    reopen: async () => {
      await fixture.log.close()
      return createEmbeddedLog({ path })
    },
    close: async () => {
      await fixture.log.close()
      rmSync(path, { recursive: true, force: true })
    },
  }
  return fixture
})
