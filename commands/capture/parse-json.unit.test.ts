import { describe, expect, it } from 'vitest'
import { CaptureError } from './errors.ts'
import { maxJsonDepth, parseCaptureJson } from './parse-json.ts'

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`

describe('capture JSON parsing', () => {
  it(`accepts nesting up to ${maxJsonDepth} and refuses deeper`, () => {
    expect(() => parseCaptureJson(nested(maxJsonDepth))).not.toThrow()
    expect(() => parseCaptureJson(nested(maxJsonDepth + 1))).toThrow(CaptureError)
    expect(() => parseCaptureJson(nested(1_000_000))).toThrow(CaptureError)
  })

  it('counts objects and arrays alike, however wide each level is', () => {
    const objects = (depth: number) => `${'{"a":1,"b":'.repeat(depth)}null${'}'.repeat(depth)}`
    expect(() => parseCaptureJson(objects(maxJsonDepth))).not.toThrow()
    expect(() => parseCaptureJson(objects(maxJsonDepth + 1))).toThrow(CaptureError)
    const mixed = `[${'{"k":['.repeat(64)}${'[]'.repeat(3)}${']}'.repeat(64)}]`
    expect(() => parseCaptureJson(mixed)).toThrow(CaptureError) // 1 + 128 + 1 levels
    const wide = JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ i, nested: [{ deep: [i] }] })))
    expect(parseCaptureJson(wide)).toEqual(JSON.parse(wide))
  })

  it('does not count brackets inside strings, escaped quotes included', () => {
    const text = JSON.stringify({ s: `\\"${'['.repeat(500)}`, t: '{'.repeat(500) })
    expect(parseCaptureJson(text)).toEqual(JSON.parse(text))
  })

  it('replaces half surrogate pairs with U+FFFD, in values and keys, and keeps whole pairs', () => {
    const text = '{"a":"x\\ud800y","\\udc00k":["\\ud83d\\ude00","\\ud83d"],"n":{"deep":"\\udbff"}}'
    expect(parseCaptureJson(text)).toEqual({
      a: 'x\uFFFDy',
      '\uFFFDk': ['😀', '\uFFFD'],
      n: { deep: '\uFFFD' },
    })
  })

  it('keeps a __proto__ key an own data property while rewriting it', () => {
    const parsed = parseCaptureJson('{"__proto__":"\\ud800"}') as object
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype)
    expect(Object.getOwnPropertyDescriptor(parsed, '__proto__')?.value).toBe('\uFFFD')
  })

  it('answers invalid_json for what JSON.parse refuses', () => {
    expect(() => parseCaptureJson('{"a":')).toThrow(expect.objectContaining({ code: 'invalid_json' }))
  })
})
