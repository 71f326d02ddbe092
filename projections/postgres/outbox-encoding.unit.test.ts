import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeOutbox, encodeOutbox } from './outbox-encoding.ts'

describe('outbox encoding', () => {
  it('gives back exactly the records it was given, whatever keys and values hold', () => {
    const record = fc.record({
      topic: fc.constantFrom('clickhouse_events_json', 'clickhouse_person', 'dead_letter_queue'),
      key: fc.option(fc.string({ unit: 'binary' }), { nil: null }),
      value: fc.oneof(fc.json(), fc.string({ unit: 'binary' })),
    })
    fc.assert(
      fc.property(fc.array(record, { maxLength: 20 }), (records) => {
        expect(decodeOutbox(encodeOutbox(records))).toEqual(records)
      }),
      { numRuns: 500 },
    )
  })
})
