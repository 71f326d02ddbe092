import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open } from 'lmdb'
import { describe, expect, it } from 'vitest'
import { logContract } from '../../../tests/contracts/log.contract.ts'
import { createEmbeddedLog } from './embedded-log.ts'

for (const [name, segmentTopics] of [
  ['embedded log, topics in LMDB', []],
  ['embedded log, topics in segment files', 'all'],
] as const) {
  logContract(name, async () => {
    const path = mkdtempSync(join(tmpdir(), 'sluice-log-'))
    const fixture = {
      log: createEmbeddedLog({ path, segmentTopics }),
      reopen: async () => {
        await fixture.log.close()
        return createEmbeddedLog({ path, segmentTopics })
      },
      close: async () => {
        await fixture.log.close()
        rmSync(path, { recursive: true, force: true })
      },
    }
    return fixture
  })
}

describe('a topic kept in LMDB by a release before segment files', () => {
  it('moves to segment files at the same offsets, and appends go on after them', async () => {
    const path = mkdtempSync(join(tmpdir(), 'sluice-log-to-segments-'))
    try {
      const before = createEmbeddedLog({ path })
      await before.ensureTopics([{ name: 'requests', partitions: 2, retention: 'default' }])
      await before.append('requests', [
        { key: 'a', value: 'one', headers: { h: '1' } },
        { key: 'a', value: 'two' },
      ])
      await before.append('requests', [{ key: null, value: 'three' }])
      const was = await Promise.all([0, 1].map((p) => before.read('requests', p, 0, 10)))
      await before.commitOffsets('g', 'requests', new Map([[0, 1]]))
      await before.close()

      const after = createEmbeddedLog({ path, segmentTopics: ['requests'] })
      await after.ensureTopics([{ name: 'requests', partitions: 2, retention: 'default' }])
      expect(await Promise.all([0, 1].map((p) => after.read('requests', p, 0, 10)))).toEqual(was)
      expect(await after.committedOffsets('g', 'requests')).toEqual(new Map([[0, 1]]))
      expect(existsSync(join(path, 'topics', 'requests'))).toBe(false)
      const keyed = was.findIndex((messages) => messages[0]?.value === 'one')
      const end = was[keyed]!.length
      await after.append('requests', [{ key: 'a', value: 'four' }])
      expect((await after.read('requests', keyed, end, 10)).map((m) => [m.offset, m.value])).toEqual([
        [end, 'four'],
      ])
      await after.close()
      // opened as before, without the option: the topic's storage is what its record says
      const again = createEmbeddedLog({ path })
      expect((await again.read('requests', keyed, end, 10)).map((m) => m.value)).toEqual(['four'])
      await again.close()
    } finally {
      rmSync(path, { recursive: true, force: true })
    }
  })
})

describe('a topic in segment files', () => {
  it('is read by another log on the same data dir (another thread) as soon as it is appended', async () => {
    const path = mkdtempSync(join(tmpdir(), 'sluice-log-segments-'))
    const writer = createEmbeddedLog({ path, segmentTopics: 'all' })
    const reader = createEmbeddedLog({ path })
    try {
      await writer.ensureTopics([{ name: 'requests', partitions: 1, retention: 'default' }])
      expect(await reader.endOffsets('requests')).toEqual(new Map([[0, 0]]))
      for (let i = 0; i < 5; i++) {
        await writer.append('requests', [{ key: 'k', value: `v${i}` }])
        expect((await reader.read('requests', 0, i, 10)).map((m) => m.value)).toEqual([`v${i}`])
      }
      expect(await reader.endOffsets('requests')).toEqual(new Map([[0, 5]]))
    } finally {
      await writer.close()
      await reader.close()
      rmSync(path, { recursive: true, force: true })
    }
  })
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

describe('retention', () => {
  it('removes segments of a topic of default retention once every group has read them and they are old, never for ever', async () => {
    const path = mkdtempSync(join(tmpdir(), 'sluice-log-retention-'))
    const segments = (topic: string) =>
      readdirSync(join(path, 'segments', topic, '0')).filter((name) => name.endsWith('.log')).length
    let log = createEmbeddedLog({ path, segmentTopics: 'all', segmentBytes: 2048, retentionCheckMs: 0 })
    try {
      await log.ensureTopics([
        { name: 'requests', partitions: 1, retention: 'default' },
        { name: 'commands', partitions: 1, retention: 'forever' },
      ])
      for (let i = 0; i < 30; i++)
        for (const topic of ['requests', 'commands'])
          await log.append(topic, [{ key: 'k', value: `${i}:`.padEnd(300, 'x') }])
      const before = segments('requests')
      expect(before).toBeGreaterThan(3)
      await log.read('requests', 0, 0, 1) // the storage is open, as a consumer's is

      // kept for the retention (seven days by default), however far every group has read
      await log.commitOffsets('split', 'requests', new Map([[0, 30]]))
      expect(segments('requests')).toBe(before)
      await log.close()

      log = createEmbeddedLog({
        path,
        segmentTopics: 'all',
        segmentBytes: 2048,
        retentionMs: 0,
        retentionCheckMs: 0,
      })
      await log.read('requests', 0, 0, 1)
      // a second group that has read less holds what it has not read
      await log.commitOffsets('audit', 'requests', new Map([[0, 5]]))
      const heldByAudit = segments('requests')
      expect(heldByAudit).toBeLessThan(before)
      expect((await log.read('requests', 0, 5, 100)).map((m) => m.offset)).toEqual(
        Array.from({ length: 25 }, (_, i) => 5 + i),
      )
      await log.commitOffsets('audit', 'requests', new Map([[0, 30]]))
      expect(segments('requests')).toBe(1)
      expect(await log.endOffsets('requests')).toEqual(new Map([[0, 30]]))

      // a topic kept for ever keeps every segment, whatever was read
      await log.read('commands', 0, 0, 1)
      await log.commitOffsets('ingest', 'commands', new Map([[0, 30]]))
      expect(segments('commands')).toBe(before)

      // appends and consumers go on where they were
      await log.append('requests', [{ key: 'k', value: 'after' }])
      const seen: number[] = []
      const subscription = log.subscribe({
        groupId: 'split',
        topics: ['requests'],
        maxBatchSize: 100,
        eachBatch: async ({ messages }) => {
          seen.push(...messages.map((m) => m.offset))
        },
      })
      await expect.poll(() => seen).toEqual([30])
      await subscription.stop()
    } finally {
      await log.close()
      rmSync(path, { recursive: true, force: true })
    }
  })
})
