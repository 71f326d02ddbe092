import { deflateRawSync, inflateRawSync } from 'node:zlib'
import type { OutboxRecord } from '../../ports/identity-store.ts'
import { utf8Bytes } from '../utf8-bytes.ts'

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
 * that holds a line break is JSON-encoded (flag `j`).
 */
export function encodeOutbox(records: readonly OutboxRecord[]): Buffer {
  const text = utf8Bytes(
    records.reduce((bytes, r) => bytes + r.topic.length + (r.key?.length ?? 4) + r.value.length + 8, 0),
  )
  for (const { topic, key, value } of records) {
    const raw = !value.includes('\n')
    text.write(`${topic}\t${JSON.stringify(key)}\t${raw ? 'r' : 'j'}`)
    text.write(raw ? value : JSON.stringify(value))
    text.write('\n')
  }
  return text.bytes()
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
