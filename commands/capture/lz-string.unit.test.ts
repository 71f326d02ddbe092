import fc from 'fast-check'
import LZString from 'lz-string'
import { describe, expect, it } from 'vitest'
import { lzDecompressFromBase64 } from './lz-string.ts'
import { lzRepeatBomb } from './testing/lz-bomb.ts'

const unlimited = Number.MAX_SAFE_INTEGER

describe('lz-string decompression with an output cap', () => {
  it.each([
    [
      'a JSON batch',
      JSON.stringify({ api_key: 'phc_x', batch: [{ event: 'e', properties: { a: [1, 2] } }] }),
    ],
    ['one character', 'x'],
    ['characters outside Latin-1', 'naïve ✓ 日本語 🎉'],
    ['a long repetitive text', 'abc'.repeat(10_000)],
  ])('reads what the lz-string package writes: %s', (_name, text) => {
    expect(lzDecompressFromBase64(LZString.compressToBase64(text), unlimited)).toEqual({ ok: true, text })
  })

  it('agrees with the lz-string package on any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        const compressed = LZString.compressToBase64(text)
        if (text === '') return
        expect(lzDecompressFromBase64(compressed, unlimited)).toEqual({ ok: true, text })
      }),
      { numRuns: 500 },
    )
  })

  it('stops at the cap instead of expanding a bomb', () => {
    const bomb = lzRepeatBomb(2000)
    expect(bomb.base64.length).toBeLessThan(4000)
    expect(lzDecompressFromBase64(bomb.base64, unlimited)).toEqual({
      ok: true,
      text: 'A'.repeat(bomb.expandedLength),
    })
    expect(lzDecompressFromBase64(bomb.base64, bomb.expandedLength - 1)).toEqual({
      ok: false,
      reason: 'too_large',
    })
  })

  it('accepts spaces where a form decoder turned + into space', () => {
    const text = '{"event":"e0","distinct_id":"user-0"}'
    const compressed = LZString.compressToBase64(text)
    expect(compressed).toContain('+')
    expect(lzDecompressFromBase64(compressed.replaceAll('+', ' '), unlimited)).toEqual({ ok: true, text })
  })

  it.each([
    ['empty input', ''],
    ['a character outside the alphabet', 'y'],
    ['a stream cut short', LZString.compressToBase64('hello world, hello lz').slice(0, 6)],
    ['a code that refers to no entry', 'A/A/'],
    ['non-ASCII characters', 'éééé'],
  ])('refuses %s without throwing', (_name, input) => {
    expect(lzDecompressFromBase64(input, unlimited)).toEqual({ ok: false, reason: 'invalid' })
  })

  it('never throws and never exceeds the cap on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.integer({ min: 0, max: 1000 }), (input, cap) => {
        const result = lzDecompressFromBase64(input, cap)
        if (result.ok) expect(result.text.length).toBeLessThanOrEqual(cap)
      }),
      { numRuns: 2000 },
    )
  })
})
