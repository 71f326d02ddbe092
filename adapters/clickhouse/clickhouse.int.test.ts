import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { clickhouseContract } from '../../tests/contracts/clickhouse.contract.ts'
import { createClickHouse } from './client.ts'

clickhouseContract('chDB', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-ch-'))
  const clickhouse = createClickHouse({ kind: 'chdb', path: dir })
  return {
    clickhouse,
    close: async () => {
      await clickhouse.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})

// No ClickHouse server runs here: give one with SLUICE_TEST_CLICKHOUSE_URL (http://host:8123) to run
// the same contract over HTTP, in a database of its own that is dropped afterwards.
const serverUrl = process.env.SLUICE_TEST_CLICKHOUSE_URL
clickhouseContract(
  `a ClickHouse server over HTTP (${serverUrl ?? 'SLUICE_TEST_CLICKHOUSE_URL not set'})`,
  async () => {
    if (serverUrl === undefined) {
      console.warn('SLUICE_TEST_CLICKHOUSE_URL is not set: the ClickHouse contract runs on chDB only.')
      return null
    }
    const database = `sluice_test_${process.pid}_${Date.now().toString(36)}`
    const admin = createClickHouse({ kind: 'http', url: serverUrl })
    await admin.command(`CREATE DATABASE ${database}`)
    const clickhouse = createClickHouse({ kind: 'http', url: serverUrl, database })
    return {
      clickhouse,
      close: async () => {
        await clickhouse.close()
        await admin.command(`DROP DATABASE IF EXISTS ${database}`)
        await admin.close()
      },
    }
  },
)
