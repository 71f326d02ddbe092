import { deflateRawSync, inflateRawSync } from 'node:zlib'
import type { OutboxRecord } from '../../ports/identity-store.ts'

/**
 * The encoded records deflated (level 1: most of the size for little of the time), as base64:
 * drivers pass a text parameter natively, where PGlite would hex-encode a byte array in JavaScript.
 */
export function deflateOutbox(records: readonly OutboxRecord[]): string {
  return deflateRawSync(encodeOutbox(records), { level: 1 }).toString('base64')
}

export function inflateOutbox(bytes: Uint8Array): OutboxRecord[] {
  return decodeOutbox(inflateRawSync(bytes).toString('utf8'))
}

/**
 * A batch's outbox records as UTF-8 text, one line each: `topic TAB key-as-JSON TAB value`. Values
 * are JSON documents already, so they go in as they are (flag `r`) instead of being escaped into a
 * JSON array — escaping a megabyte of JSON per batch was a large part of ingest's cost. A value
 * that holds a line break is JSON-encoded (flag `j`). Each piece is written into the buffer as it
 * comes: one string concatenated from a batch's thousands of records and then encoded took three
 * times as long (flattening it, then a second pass), 5 % of the main thread end to end.
 */
export function encodeOutbox(records: readonly OutboxRecord[]): Buffer {
  let bytes = Buffer.allocUnsafe(64 * 1024)
  let at = 0
  const write = (text: string) => {
    // UTF-8 takes at most 3 bytes for each UTF-16 unit
    if (at + text.length * 3 > bytes.length) {
      const larger = Buffer.allocUnsafe(Math.max(bytes.length * 2, at + text.length * 3))
      bytes.copy(larger, 0, 0, at)
      bytes = larger
    }
    at += bytes.write(text, at)
  }
  for (const { topic, key, value } of records) {
    const raw = !value.includes('\n')
    write(`${topic}\t${JSON.stringify(key)}\t${raw ? 'r' : 'j'}`)
    write(raw ? value : JSON.stringify(value))
    write('\n')
  }
  return bytes.subarray(0, at)
}

export function decodeOutbox(text: string): OutboxRecord[] {
  const records: OutboxRecord[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    const afterTopic = line.indexOf('\t')
    const afterKey = line.indexOf('\t', afterTopic + 1)
    const value = line.slice(afterKey + 2)
    records.push({
      topic: line.slice(0, afterTopic),
      key: JSON.parse(line.slice(afterTopic + 1, afterKey)) as string | null,
      value: line[afterKey + 1] === 'r' ? value : (JSON.parse(value) as string),
    })
  }
  return records
}
