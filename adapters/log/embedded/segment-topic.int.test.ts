import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  rmdirSync,
  rmSync,
  writeSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import type { LogRecord } from '../../../ports/log.ts'
import { segmentTopic } from './segment-topic.ts'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})
const newDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-segments-'))
  dirs.push(dir)
  return dir
}
const open = (dir: string, segmentBytes = 4096) =>
  segmentTopic({ dir, topic: 't', partitions: 1, segmentBytes })
const values = (messages: { value: string }[]) => messages.map((m) => m.value)

describe('segment files', () => {
  it('roll over to new segments, a batch larger than a segment in one of its own, and read back from anywhere', async () => {
    const dir = newDir()
    const writer = open(dir)
    const appended: string[] = []
    for (const size of [10, 3000, 50, 9000, 1, 4000, 200, 200, 200]) {
      const value = `${appended.length}:`.padEnd(size, 'x')
      appended.push(value)
      await writer.append(new Map([[0, [{ key: 'k', value }]]]), 1)
    }
    const segments = readdirSync(join(dir, '0')).filter((name) => name.endsWith('.log'))
    expect(segments.length).toBeGreaterThan(3)
    const reader = open(dir)
    expect(reader.end(0)).toBe(appended.length)
    for (let from = 0; from <= appended.length; from++)
      expect(values(reader.read(0, from, 3))).toEqual(appended.slice(from, from + 3))
    await writer.close()
    // a writer opened again goes on after the last record
    const again = open(dir)
    await again.append(new Map([[0, [{ key: null, value: 'after' }]]]), 2)
    expect(reader.read(0, appended.length, 10).map((m) => [m.offset, m.value, m.key])).toEqual([
      [appended.length, 'after', null],
    ])
    await again.close()
    await reader.close()
  })

  it('end at a torn record: what was written after it never counts, and the writer goes on from there', async () => {
    const dir = newDir()
    const writer = open(dir)
    for (const value of ['v0', 'v1', 'v2']) await writer.append(new Map([[0, [{ key: 'k', value }]]]), 1)
    await writer.close()
    // a crash tore the second record: one byte of its value never reached the disk
    const file = join(dir, '0', '00000000000000000000.log')
    const record = 24 + 4 + 1 + 4 + 2 + 4
    const fd = openSync(file, 'r+')
    const valueAt = 32 + record + 24 + 4 + 1 + 4
    const byte = Buffer.alloc(1)
    readSync(fd, byte, 0, 1, valueAt)
    expect(byte.toString()).toBe('v')
    writeSync(fd, Buffer.from('?'), 0, 1, valueAt)
    closeSync(fd)

    const reader = open(dir)
    expect(values(reader.read(0, 0, 10))).toEqual(['v0'])
    expect(reader.end(0)).toBe(1)
    // the record written over the torn one has the same length: the intact third one lines up after
    // it, and is still not taken — its checksum follows the torn record's, not this one's
    const recovered = open(dir)
    await recovered.append(new Map([[0, [{ key: 'k', value: 'w1' }]]]), 2)
    expect(values(reader.read(0, 0, 10))).toEqual(['v0', 'w1'])
    expect(reader.end(0)).toBe(2)
    await recovered.close()
    await reader.close()
  })

  it('fail an append whose new segment cannot take its name, keep no file open for it, and go on after', async () => {
    const dir = newDir()
    const writer = open(dir)
    const big = 'b'.padEnd(3000, 'x')
    await writer.append(new Map([[0, [{ key: 'k', value: 'v0' }]]]), 1)
    await writer.append(new Map([[0, [{ key: 'k', value: big }]]]), 1)
    // the next batch starts a segment at offset 2, whose name a directory holds
    const blocker = join(dir, '0', '00000000000000000002.log')
    mkdirSync(blocker)
    await expect(writer.append(new Map([[0, [{ key: 'k', value: big }]]]), 1)).rejects.toThrow()
    // Linux lists a process's open files in /proc; elsewhere this part of the check has nothing to see
    const descriptors = existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd') : []
    const openOnPrepared = descriptors.filter((fd) => {
      try {
        return readlinkSync(join('/proc/self/fd', fd)).endsWith('prepared.tmp')
      } catch {
        return false // the directory's own descriptor, closed while listed
      }
    })
    expect(openOnPrepared).toEqual([])
    rmdirSync(blocker)
    await writer.append(new Map([[0, [{ key: 'k', value: 'after' }]]]), 1)
    expect(values(writer.read(0, 0, 10))).toEqual(['v0', big, 'after'])
    await writer.close()
  })

  it('hand back every record as appended, whatever the appends and reads (random sequences)', async () => {
    const record = fc.record({
      key: fc.option(fc.string(), { nil: null }),
      value: fc.string({ unit: 'grapheme', maxLength: 300 }),
      headers: fc.option(fc.dictionary(fc.string(), fc.string()), { nil: undefined }),
    })
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(record, { minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 15 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 50 })), { maxLength: 10 }),
        async (appends, reads) => {
          const dir = newDir()
          const writer = open(dir, 2048)
          const model: LogRecord[] = []
          // appended in one turn, so that they share commits as a loaded writer's do
          await Promise.all(
            appends.map((records) => {
              const stored = records.map(({ key, value, headers }) =>
                headers ? { key, value, headers } : { key, value },
              )
              model.push(...stored)
              return writer.append(new Map([[0, stored]]), 7)
            }),
          )
          const reader = open(dir, 2048)
          expect(reader.end(0)).toBe(model.length)
          for (const [from, max] of reads) {
            const start = from % (model.length + 1)
            const read = reader.read(0, start, max)
            expect(
              read.map(({ key, value, headers }) => (headers ? { key, value, headers } : { key, value })),
            ).toEqual(model.slice(start, start + max))
            expect(read.map((m) => m.offset)).toEqual(read.map((_, i) => start + i))
          }
          await writer.close()
          await reader.close()
        },
      ),
      { numRuns: 40 },
    )
  })

  it('remove whole segments before an offset, never the last, and readers opened before let go of them', async () => {
    const dir = newDir()
    const writer = open(dir, 2048)
    const appended: string[] = []
    for (let i = 0; i < 40; i++) {
      const value = `${i}:`.padEnd(300, 'x')
      appended.push(value)
      await writer.append(new Map([[0, [{ key: 'k', value }]]]), 1)
    }
    const reader = open(dir, 2048)
    expect(values(reader.read(0, 0, 100))).toEqual(appended)
    const segmentBases = () =>
      readdirSync(join(dir, '0'))
        .filter((name) => name.endsWith('.log'))
        .map((name) => Number(name.slice(0, 20)))
    const before = segmentBases()
    expect(before.length).toBeGreaterThan(4)

    // written after the cut-off: nothing goes, whatever was read
    expect(writer.removeBefore?.(0, 40, Date.now() - 60_000)).toBe(0)
    // every record of a segment must be before the offset: the one holding 20 stays
    const holding20 = before.filter((base) => base <= 20).at(-1)!
    expect(writer.removeBefore?.(0, 20, Date.now() + 1000)).toBe(before.indexOf(holding20))
    expect(segmentBases()).toEqual(before.filter((base) => base >= holding20))
    expect(reader.end(0)).toBe(40)
    expect(values(reader.read(0, 20, 100))).toEqual(appended.slice(20))
    // from before what is kept, a read starts at the first record kept, as Kafka's earliest does
    expect(reader.read(0, 0, 1).map((m) => m.offset)).toEqual([holding20])
    // the reader opened before no longer holds the removed files open (Linux lists them in /proc)
    const removedStillOpen = existsSync('/proc/self/fd')
      ? readdirSync('/proc/self/fd').filter((fd) => {
          try {
            const file = readlinkSync(join('/proc/self/fd', fd))
            return file.startsWith(dir) && file.endsWith('(deleted)')
          } catch {
            return false
          }
        })
      : []
    expect(removedStillOpen).toEqual([])

    // never the last segment, which the writer appends to; appends go on after the removal
    writer.removeBefore?.(0, Number.POSITIVE_INFINITY, Date.now() + 1000)
    expect(segmentBases()).toEqual([before.at(-1)])
    await writer.append(new Map([[0, [{ key: 'k', value: 'after' }]]]), 2)
    await writer.close()
    const again = open(dir, 2048)
    await again.append(new Map([[0, [{ key: 'k', value: 'again' }]]]), 3)
    expect(values(reader.read(0, 40, 10))).toEqual(['after', 'again'])
    expect(reader.end(0)).toBe(42)
    await again.close()
    await reader.close()
  })
})
