import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open } from 'lmdb'
import { expect, it } from 'vitest'
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

it('reads record batches stored before batches were packed', async () => {
  const path = mkdtempSync(join(tmpdir(), 'sluice-log-'))
  try {
    const root = open({ path, compression: false })
    await root.openDB({ name: 'topics' }).put('t', { name: 't', partitions: 1, retention: 'forever' })
    const records = [
      { key: 'a', value: 'v0' },
      { key: null, value: 'v1', headers: { h: '1' } },
    ]
    await root.openDB({ name: 'record_batches' }).put(['t', 0, 0], { timestamp: 1, records })
    await root.close()

    const log = createEmbeddedLog({ path })
    await log.append('t', [{ key: 'a', value: 'v2' }])
    const read = await log.read('t', 0, 0, 10)
    expect(read.map((m) => [m.offset, m.key, m.value, m.headers])).toEqual([
      [0, 'a', 'v0', undefined],
      [1, null, 'v1', { h: '1' }],
      [2, 'a', 'v2', undefined],
    ])
    await log.close()
  } finally {
    rmSync(path, { recursive: true, force: true })
  }
})
