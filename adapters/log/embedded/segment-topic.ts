import {
  closeSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs'
import { type FileHandle, open as openFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { crc32 } from 'node:zlib'
import type { LogRecord } from '../../../ports/log.ts'
import { commitSyncs } from './commit-sync.ts'
import type { TopicStorage } from './topic-storage.ts'

interface TimedRecord {
  record: LogRecord
  timestamp: number
}

/**
 * A topic kept in segment files, as Kafka keeps its partitions: each partition a directory of
 * files named by the offset of their first record, each file written full of zeros ahead of use
 * and then written in place. A commit is one write and one `fdatasync` per partition: the file
 * neither grows nor gets new blocks, so ext4 need not commit its journal — the sync that LMDB's
 * commit (pages, then the meta page, each synced, the file growing) makes two of, and that waits
 * behind every other file's journal commit.
 *
 * The format (docs/architecture.md, "The command log's format"), little-endian:
 * - a segment's header, 32 bytes: `SLUICESG`, version (u32, 1), the seed of the first record's
 *   checksum (u32: the last checksum of the segment before, 0 for the first), the base offset
 *   (f64), the header's own CRC-32 of the bytes before it (u32), 4 bytes unused;
 * - then records, each: body length (u32), checksum (u32), offset (f64), append time in epoch ms
 *   (f64), and the body: key length (i32, -1 for none) and key, value length (u32) and value,
 *   headers length (i32, -1 for none) and the headers as JSON; strings in UTF-8.
 * A record's checksum is the CRC-32 of its bytes from the offset on, seeded with the checksum of the
 * record before: a record counts only if it follows the record before, so the zeros after the last
 * record, a record torn by a crash, and anything written after a torn one all read as the end.
 */
const magic = Buffer.from('SLUICESG', 'latin1')
const version = 1
const segmentHeaderBytes = 32
const recordHeaderBytes = 24
/** Key, value and headers lengths: the smallest body. */
const minBodyBytes = 12
/** Written full of zeros ahead of use (some 20 ms for 16 MiB, off the commit's path): at most two per partition wait unused. */
const defaultSegmentBytes = 16 * 1024 * 1024
const readChunkBytes = 256 * 1024
const zeros = Buffer.alloc(1024 * 1024)

/** Where a record starts in a segment, and the checksum of the record before it. */
interface Position {
  offset: number
  at: number
  crc: number
}

interface Segment {
  base: number
  path: string
  fd: number
  size: number
  start: Position
  /** Where reads of this segment last stopped, the furthest first: each read starts from the nearest. */
  marks: Position[]
}

export interface SegmentTopicOptions {
  /** The topic's directory: a directory per partition in it. */
  dir: string
  topic: string
  partitions: number
  /** How much a segment holds; a batch larger than this gets a segment of its own size. */
  segmentBytes?: number
}

export function segmentTopic(options: SegmentTopicOptions): TopicStorage {
  const segmentBytes = options.segmentBytes ?? defaultSegmentBytes
  const partitions = Array.from({ length: options.partitions }, (_, partition) =>
    partitionFiles(join(options.dir, String(partition)), segmentBytes),
  )
  // group commit: what is appended while a commit runs goes in the next one, all of it together
  let queued: { byPartition: Map<number, LogRecord[]>; timestamp: number; done: Deferred }[] = []
  let committing: Promise<void> | null = null
  const commitQueued = async () => {
    while (queued.length > 0) {
      const batch = queued
      queued = []
      const byPartition = new Map<number, TimedRecord[]>()
      for (const { byPartition: appended, timestamp } of batch)
        for (const [partition, records] of appended) {
          const list = byPartition.get(partition) ?? []
          byPartition.set(partition, list)
          for (const record of records) list.push({ record, timestamp })
        }
      try {
        await Promise.all(
          [...byPartition].map(([partition, records]) => partitions[partition]!.write(records)),
        )
        for (const { done } of batch) done.resolve()
      } catch (error) {
        for (const { done } of batch) done.reject(error)
      }
    }
    committing = null
  }
  return {
    append(byPartition, timestamp) {
      const done = deferred()
      queued.push({ byPartition, timestamp, done })
      committing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(commitQueued)
      return done.promise
    },
    read: (partition, fromOffset, maxMessages) =>
      partitions[partition]!.read(fromOffset, maxMessages).map(({ offset, timestamp, record }) => ({
        topic: options.topic,
        partition,
        offset,
        timestamp,
        ...record,
      })),
    end: (partition) => partitions[partition]!.end(),
    removeBefore: (partition, offset, writtenBefore) =>
      partitions[partition]!.removeBefore(offset, writtenBefore),
    async close() {
      await committing
      for (const files of partitions) await files.close()
    },
  }
}

/** A record as read, before it is labelled with its topic and partition. */
interface ReadRecord {
  offset: number
  timestamp: number
  record: LogRecord
}

/** One partition's segments: read by any thread, written by the topic's one writer. */
function partitionFiles(dir: string, segmentBytes: number) {
  const segments: Segment[] = []
  const known = new Set<string>()
  /**
   * Takes up segments written since the last look (the writer's rolls, in another thread), and lets
   * go of those removed (removeBefore, in another thread): their room is free once no file is open.
   */
  const lookAgain = () => {
    let names: string[]
    try {
      names = readdirSync(dir)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
      throw error
    }
    const listed = new Set(names)
    for (let i = segments.length - 1; i >= 0; i--) {
      const segment = segments[i]!
      if (listed.has(segmentName(segment.base))) continue
      closeSync(segment.fd)
      known.delete(segmentName(segment.base))
      segments.splice(i, 1)
    }
    const found = names.filter((name) => /^\d{20}\.log$/.test(name) && !known.has(name)).sort()
    for (const name of found) {
      known.add(name)
      segments.push(openSegment(join(dir, name), Number(name.slice(0, 20))))
    }
    segments.sort((a, b) => a.base - b.base)
  }
  /** The segment holding `offset`: the last that starts at or before it. */
  const segmentOf = (offset: number): number => {
    let index = -1
    for (let i = 0; i < segments.length && segments[i]!.base <= offset; i++) index = i
    return index
  }

  /**
   * Reads from `fromOffset` on, up to `maxMessages`, across segments; stops at the end of what is
   * written. Where it stops is kept, so that the next read, a consumer's, starts there.
   */
  const read = (
    fromOffset: number,
    maxMessages: number,
    collect = true,
  ): { records: ReadRecord[]; end: number } => {
    const records: ReadRecord[] = []
    // segments newer than those known are found where the last known one's records end, below
    if (segments.length === 0) lookAgain()
    let index = Math.max(0, segmentOf(fromOffset))
    let next = fromOffset
    while (index < segments.length) {
      const segment = segments[index]!
      let position = nearestMark(segment, fromOffset)
      const scanned = scanSegment(segment, position, (offset, timestamp, body) => {
        if (offset < fromOffset) return true
        if (collect) records.push({ offset, timestamp, record: decodeBody(body) })
        return records.length < maxMessages
      })
      position = scanned.stoppedAt
      mark(segment, position)
      next = position.offset
      if (records.length >= maxMessages) break
      // the end of this segment's records: the next segment goes on from there, if there is one
      // (looking again may also let go of segments removed before this one)
      if (index === segments.length - 1) lookAgain()
      const end = position.offset
      index = segments.findIndex((following) => following.base === end && following.base > segment.base)
      if (index === -1) break
    }
    return { records, end: next }
  }

  let writer: SegmentWriter | null = null
  return {
    read: (fromOffset: number, maxMessages: number) => read(fromOffset, maxMessages).records,
    /**
     * Removes the oldest segments while every record of each is before `offset` and it was last
     * written before `writtenBefore` (epoch ms): never the last segment, which the writer appends to,
     * and only from the first on, so what is left is whole from its first offset. Returns how many.
     */
    removeBefore(offset: number, writtenBefore: number): number {
      lookAgain()
      let removed = 0
      while (segments.length > 1) {
        const [oldest, next] = [segments[0]!, segments[1]!]
        if (next.base > offset || fstatSync(oldest.fd).mtimeMs >= writtenBefore) break
        rmSync(oldest.path, { force: true }) // gone already: removed by another reader of the topic
        closeSync(oldest.fd)
        known.delete(segmentName(oldest.base))
        segments.shift()
        removed++
      }
      // a removal lost to a crash only leaves a segment to remove again
      if (removed > 0) fsyncDirectory(dir)
      return removed
    },
    end(): number {
      lookAgain()
      const last = segments.at(-1)
      // from the furthest place a read reached: only what was written since is read
      return last === undefined
        ? 0
        : read(last.marks[0]?.offset ?? last.base, Number.POSITIVE_INFINITY, false).end
    },
    async write(records: TimedRecord[]): Promise<void> {
      writer ??= await openWriter()
      try {
        await writer.write(records)
      } catch (error) {
        // what reached the file is found again by the next writer, which reads where it ends
        await writer.close().catch(() => {})
        writer = null
        throw error
      }
    },
    async close() {
      await writer?.close()
      writer = null
      for (const segment of segments) closeSync(segment.fd)
      segments.length = 0
      known.clear()
    },
  }

  /** The writer starts where the last segment's records end: after a crash, before a torn record. */
  async function openWriter(): Promise<SegmentWriter> {
    // the partition's directory, and the topic's and `segments/` above it, may be new: their
    // entries are on disk once their parents are synced
    mkdirSync(dir, { recursive: true })
    for (let parent = dirname(dir), level = 0; level < 3; parent = dirname(parent), level++)
      fsyncDirectory(parent)
    rmSync(join(dir, preparedName), { force: true })
    lookAgain()
    const last = segments.at(-1)
    let tail: { segment: Segment; handle: FileHandle; at: Position } | null = null
    if (last !== undefined) {
      const { stoppedAt } = scanSegment(last, nearestMark(last, last.base), () => true)
      tail = { segment: last, handle: await openFile(last.path, 'r+'), at: stoppedAt }
    }
    return segmentWriter(dir, segmentBytes, tail, () => lookAgain())
  }
}

type SegmentWriter = ReturnType<typeof segmentWriter>
const preparedName = 'prepared.tmp'
const segmentName = (base: number) => `${String(base).padStart(20, '0')}.log`

function segmentWriter(
  dir: string,
  segmentBytes: number,
  tail: { segment: Segment; handle: FileHandle; at: Position } | null,
  rolled: () => void,
) {
  const sync = commitSyncs()
  let current = tail === null ? null : { handle: tail.handle, size: tail.segment.size }
  let at: Position = tail?.at ?? { offset: 0, at: segmentHeaderBytes, crc: 0 }
  // the next segment, written full of zeros while this one fills
  let prepared: Promise<{ handle: FileHandle; size: number }> | null = null
  const prepare = (size: number) => {
    const path = join(dir, preparedName)
    const making = (async () => {
      const handle = await openFile(path, 'w+')
      try {
        for (let written = 0; written < size; written += zeros.length)
          await handle.write(zeros, 0, Math.min(zeros.length, size - written), written)
        await handle.datasync()
        return { handle, size }
      } catch (error) {
        await handle.close()
        throw error
      }
    })()
    making.catch(() => {}) // awaited at the roll; a failure there fails that append, not the process
    return making
  }

  return {
    async write(records: TimedRecord[]): Promise<void> {
      const encoded = encodeRecords(records, at)
      if (current === null || at.at + encoded.bytes.length > current.size) {
        await roll(encoded)
        return
      }
      // Into the page cache at once (tens of µs): a hop to libuv's pool wakes a pool thread and then
      // this one, and under load each wakeup can wait for a core. The sync too, while it is fast.
      writeFully(current.handle.fd, encoded.bytes, at.at)
      await sync(current.handle)
      at = { offset: encoded.next.offset, at: at.at + encoded.bytes.length, crc: encoded.next.crc }
      if (prepared === null && at.at > current.size / 2) prepared = prepare(segmentBytes)
    },
    async close() {
      await current?.handle.close()
      const making = prepared
      prepared = null
      if (making)
        await making.then(
          ({ handle }) => handle.close(),
          () => {},
        )
    },
  }

  /**
   * A new segment starts with this batch: its header and records are written into the prepared
   * file and synced before the file takes its name, so a segment on disk always begins whole.
   */
  async function roll(encoded: Encoded) {
    const needed = segmentHeaderBytes + encoded.bytes.length
    let next = await (prepared ?? prepare(segmentBytes)).catch((error: unknown) => {
      prepared = null
      throw error
    })
    prepared = null
    if (next.size < needed) {
      await next.handle.close()
      next = await prepare(needed)
    }
    const header = segmentHeader(at.offset, at.crc)
    const path = join(dir, segmentName(at.offset))
    try {
      await next.handle.write(Buffer.concat([header, encoded.bytes]), 0, needed, 0)
      await next.handle.datasync()
      renameSync(join(dir, preparedName), path)
      fsyncDirectory(dir)
    } catch (error) {
      // The append fails; the next writer starts from the files as they are (partitionFiles' write),
      // a renamed segment among them (its records then in the log, and in it again if retried).
      await next.handle.close().catch(() => {})
      throw error
    }
    await current?.handle.close()
    current = next
    rolled()
    at = { offset: encoded.next.offset, at: needed, crc: encoded.next.crc }
  }
}

function writeFully(fd: number, bytes: Buffer, position: number): void {
  for (let written = 0; written < bytes.length; )
    written += writeSync(fd, bytes, written, bytes.length - written, position + written)
}

interface Encoded {
  bytes: Buffer
  /** Where the record after these starts: its offset and its checksum's seed. */
  next: { offset: number; crc: number }
}

function encodeRecords(records: TimedRecord[], from: Position): Encoded {
  const sizes = records.map(({ record }) => {
    const headers = record.headers === undefined ? null : JSON.stringify(record.headers)
    const key = record.key === null ? 0 : Buffer.byteLength(record.key)
    const value = Buffer.byteLength(record.value)
    const headerBytes = headers === null ? 0 : Buffer.byteLength(headers)
    return { headers, key, value, headerBytes, body: minBodyBytes + key + value + headerBytes }
  })
  const bytes = Buffer.allocUnsafe(sizes.reduce((sum, size) => sum + recordHeaderBytes + size.body, 0))
  let at = 0
  let crc = from.crc
  let offset = from.offset
  records.forEach(({ record, timestamp }, i) => {
    const size = sizes[i]!
    const start = at
    bytes.writeUInt32LE(size.body, at)
    bytes.writeDoubleLE(offset, at + 8)
    bytes.writeDoubleLE(timestamp, at + 16)
    at += recordHeaderBytes
    if (record.key === null) bytes.writeInt32LE(-1, at)
    else {
      bytes.writeInt32LE(size.key, at)
      bytes.write(record.key, at + 4, 'utf8')
    }
    at += 4 + size.key
    bytes.writeUInt32LE(size.value, at)
    bytes.write(record.value, at + 4, 'utf8')
    at += 4 + size.value
    if (size.headers === null) bytes.writeInt32LE(-1, at)
    else {
      bytes.writeInt32LE(size.headerBytes, at)
      bytes.write(size.headers, at + 4, 'utf8')
    }
    at += 4 + size.headerBytes
    crc = crc32(bytes.subarray(start + 8, at), crc)
    bytes.writeUInt32LE(crc, start + 4)
    offset++
  })
  return { bytes, next: { offset, crc } }
}

function decodeBody(body: Buffer): LogRecord {
  let at = 0
  const keyBytes = body.readInt32LE(at)
  at += 4
  const key = keyBytes < 0 ? null : body.toString('utf8', at, at + keyBytes)
  at += Math.max(0, keyBytes)
  const valueBytes = body.readUInt32LE(at)
  at += 4
  const value = body.toString('utf8', at, at + valueBytes)
  at += valueBytes
  const headerBytes = body.readInt32LE(at)
  const record: LogRecord = { key, value }
  if (headerBytes >= 0) record.headers = JSON.parse(body.toString('utf8', at + 4, at + 4 + headerBytes))
  return record
}

function segmentHeader(base: number, seed: number): Buffer {
  const header = Buffer.alloc(segmentHeaderBytes)
  magic.copy(header, 0)
  header.writeUInt32LE(version, 8)
  header.writeUInt32LE(seed, 12)
  header.writeDoubleLE(base, 16)
  header.writeUInt32LE(crc32(header.subarray(0, 24)), 24)
  return header
}

function openSegment(path: string, base: number): Segment {
  const fd = openSync(path, 'r')
  const header = Buffer.alloc(segmentHeaderBytes)
  readSync(fd, header, 0, segmentHeaderBytes, 0)
  if (
    !header.subarray(0, 8).equals(magic) ||
    header.readUInt32LE(8) !== version ||
    header.readDoubleLE(16) !== base ||
    header.readUInt32LE(24) !== crc32(header.subarray(0, 24))
  ) {
    closeSync(fd)
    throw new Error(
      `${path} is not a segment of sluice's log (version ${version}) starting at offset ${base}`,
    )
  }
  const start = { offset: base, at: segmentHeaderBytes, crc: header.readUInt32LE(12) }
  return { base, path, fd, size: fstatSync(fd).size, start, marks: [] }
}

/** The furthest place known in the segment at or before `offset`. */
function nearestMark(segment: Segment, offset: number): Position {
  for (const mark of segment.marks) if (mark.offset <= offset) return mark
  return segment.start
}

/** Keeps where a read stopped, the furthest few of them (a consumer's next read starts there). */
function mark(segment: Segment, position: Position): void {
  if (segment.marks.some((m) => m.offset === position.offset)) return
  segment.marks.push(position)
  segment.marks.sort((a, b) => b.offset - a.offset)
  if (segment.marks.length > 8) segment.marks.length = 8
}

/**
 * Reads the records of a segment from `from` on and hands each to `each` (false stops); ends at the
 * first place that holds no record following the one before.
 */
function scanSegment(
  segment: Segment,
  from: Position,
  each: (offset: number, timestamp: number, body: Buffer) => boolean,
): { stoppedAt: Position } {
  let position = from
  let chunk = Buffer.alloc(0)
  let chunkAt = 0
  const bytesAt = (at: number, length: number): Buffer | null => {
    if (at + length > segment.size) return null
    if (at < chunkAt || at + length > chunkAt + chunk.length) {
      chunk = Buffer.allocUnsafe(Math.max(readChunkBytes, length))
      const read = readSync(segment.fd, chunk, 0, Math.min(chunk.length, segment.size - at), at)
      chunk = chunk.subarray(0, read)
      chunkAt = at
      if (read < length) return null
    }
    return chunk.subarray(at - chunkAt, at - chunkAt + length)
  }
  for (;;) {
    const header = bytesAt(position.at, recordHeaderBytes)
    if (header === null) break
    const bodyBytes = header.readUInt32LE(0)
    if (bodyBytes < minBodyBytes || header.readDoubleLE(8) !== position.offset) break
    const record = bytesAt(position.at, recordHeaderBytes + bodyBytes)
    if (record === null) break
    const crc = crc32(record.subarray(8), position.crc)
    if (crc !== record.readUInt32LE(4)) break
    const next = { offset: position.offset + 1, at: position.at + recordHeaderBytes + bodyBytes, crc }
    const goOn = each(position.offset, record.readDoubleLE(16), record.subarray(recordHeaderBytes))
    position = next
    if (!goOn) break
  }
  return { stoppedAt: position }
}

/** A directory's entries (a segment's new name) are on disk only once the directory is synced. */
function fsyncDirectory(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

interface Deferred {
  promise: Promise<void>
  resolve(): void
  reject(error: unknown): void
}

function deferred(): Deferred {
  let resolve: () => void = () => {}
  let reject: (error: unknown) => void = () => {}
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}
