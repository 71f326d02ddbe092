import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open } from 'lmdb'
import { describe, expect, it } from 'vitest'
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

describe('a data dir written before each topic had an environment of its own', () => {
  it('is read as before, and appends go on at the offsets after its records', async () => {
    const path = mkdtempSync(join(tmpdir(), 'sluice-log-legacy-'))
    // the layout of releases before 2026-12-02: every topic's batches in the root environment
    const legacyRoot = open({ path, compression: false })
    legacyRoot
      .openDB({ name: 'topics' })
      .putSync('requests', { name: 'requests', partitions: 2, retention: 'default' })
    const legacyBatches = legacyRoot.openDB({ name: 'record_batches' })
    legacyBatches.putSync(['requests', 0, 0], {
      timestamp: 1,
      records: [
        { key: 'a', value: 'one' },
        { key: 'a', value: 'two' },
      ],
    })
    legacyBatches.putSync(['requests', 1, 0], { timestamp: 2, records: [{ key: null, value: 'three' }] })
    legacyRoot.openDB({ name: 'consumer_offsets' }).putSync(['g', 'requests', 0], 1)
    await legacyRoot.close()
    const log = createEmbeddedLog({ path })
    try {
      expect(
        (await log.read('requests', 0, 0, 10)).map((m) => [m.offset, m.key, m.value, m.timestamp]),
      ).toEqual([
        [0, 'a', 'one', 1],
        [1, 'a', 'two', 1],
      ])
      expect((await log.read('requests', 1, 0, 10)).map((m) => m.value)).toEqual(['three'])
      expect(await log.committedOffsets('g', 'requests')).toEqual(new Map([[0, 1]]))
      await log.append('requests', [{ key: 'a', value: 'four' }])
      expect(await log.endOffsets('requests')).toEqual(
        new Map([
          [0, 3],
          [1, 1],
        ]),
      )
    } finally {
      await log.close()
    }
    // moved, not copied: the root keeps no batch, and a second open finds the same records
    const reopened = createEmbeddedLog({ path })
    try {
      expect((await reopened.read('requests', 0, 0, 10)).map((m) => m.value)).toEqual(['one', 'two', 'four'])
    } finally {
      await reopened.close()
    }
    const root = open({ path, compression: false })
    expect([...root.openDB({ name: 'record_batches' }).getKeys()]).toEqual([])
    await root.close()
    rmSync(path, { recursive: true, force: true })
  })
})

describe('a read', () => {
  // A snapshot held on keeps the pages the topic's writer frees from being reused: under load LMDB's
  // free list grew and every commit of capture's got slower (see fromSnapshot).
  it('lets its snapshot go before it returns, not at the thread’s next timer phase', async () => {
    const path = mkdtempSync(join(tmpdir(), 'sluice-log-snapshot-'))
    const log = createEmbeddedLog({ path })
    try {
      await log.ensureTopics([{ name: 'requests', partitions: 1, retention: 'default' }])
      await log.append('requests', [{ key: 'a', value: 'one' }])
      // what LMDB's reader table shows of a topic's environment: a reader holding a snapshot has its txnid
      const topic = open({ path: join(path, 'topics', 'requests'), compression: false })
      const snapshotsHeld = () =>
        topic
          .readerList()
          .split('\n')
          .filter((line) => /^\s*\d+\s+\S+\s+\d+\s*$/.test(line)).length
      expect(snapshotsHeld()).toBe(0)
      expect((await log.read('requests', 0, 0, 10)).map((m) => m.value)).toEqual(['one'])
      expect(await log.endOffsets('requests')).toEqual(new Map([[0, 1]]))
      expect(snapshotsHeld()).toBe(0)
      await topic.close()
    } finally {
      await log.close()
      rmSync(path, { recursive: true, force: true })
    }
  })
})
