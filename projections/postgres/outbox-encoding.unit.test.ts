import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeOutbox, deflateOutbox, encodeOutbox, inflateOutbox } from './outbox-encoding.ts'

describe('outbox encoding', () => {
  it('gives back exactly the records it was given, whatever keys and values hold', () => {
    const record = fc.record({
      topic: fc.constantFrom('clickhouse_events_json', 'clickhouse_person', 'dead_letter_queue'),
      key: fc.option(fc.string({ unit: 'binary' }), { nil: null }),
      value: fc.oneof(fc.json(), fc.string({ unit: 'binary' })),
    })
    fc.assert(
      fc.property(fc.array(record, { maxLength: 20 }), (records) => {
        expect(decodeOutbox(encodeOutbox(records).toString('utf8'))).toEqual(records)
      }),
      { numRuns: 500 },
    )
  })

  it('grows its buffer for batches far larger than it starts with, multi-byte text included', () => {
    const records = Array.from({ length: 30 }, (_, i) => ({
      topic: 'clickhouse_person',
      key: i % 2 === 0 ? null : `ключ-${i}`,
      value: JSON.stringify({ i, text: '✓é𝄞'.repeat(2000 * (i + 1)) }),
    }))
    const encoded = encodeOutbox(records)
    expect(encoded.length).toBeGreaterThan(1_000_000)
    expect(decodeOutbox(encoded.toString('utf8'))).toEqual(records)
  })

  it('deflates and inflates back to the same records', () => {
    const records = Array.from({ length: 200 }, (_, i) => ({
      topic: 'clickhouse_events_json',
      key: `key-${i}`,
      value: JSON.stringify({ uuid: `u-${i}`, properties: JSON.stringify({ $set: { n: i, 'é\n': '✓' } }) }),
    }))
    const deflated = deflateOutbox(records)
    expect(deflated.length).toBeLessThan(encodeOutbox(records).length / 4)
    expect(inflateOutbox(Buffer.from(deflated, 'base64'))).toEqual(records)
  })
})
