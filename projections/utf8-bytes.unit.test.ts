import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { utf8Bytes } from './utf8-bytes.ts'

describe('text written as UTF-8 bytes', () => {
  it('holds exactly what Buffer.from gives for the pieces joined, however small it starts', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'grapheme', maxLength: 3000 }), { maxLength: 12 }),
        fc.integer({ min: 0, max: 4096 }),
        (pieces, expectedBytes) => {
          const text = utf8Bytes(expectedBytes)
          for (const piece of pieces) text.write(piece)
          const joined = Buffer.from(pieces.join(''))
          expect(text.length).toBe(joined.length)
          expect(text.bytes().equals(joined)).toBe(true)
        },
      ),
      { numRuns: 300 },
    )
  })
})
