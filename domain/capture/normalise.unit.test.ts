import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalJson, cleanDistinctId, eventUuid, mintedUuids, tokenProblem } from './normalise.ts'

describe('cleanDistinctId', () => {
  it.each([
    ['user-1', 'user-1'],
    [0, '0'],
    [-1.5, '-1.5'],
    [false, 'false'],
    [{ b: [2, { d: 1, c: 0 }], a: null }, '{"a":null,"b":[2,{"c":0,"d":1}]}'],
    ['\u0000', '\uFFFD'],
    ['é'.repeat(201), 'é'.repeat(200)],
  ])('%j → %j', (raw, expected) => {
    expect(cleanDistinctId(raw)).toBe(expected)
  })

  it.each([[undefined], [null], ['']])('%j is no distinct id', (raw) => {
    expect(cleanDistinctId(raw)).toBeNull()
  })
})

describe('canonicalJson', () => {
  it('sorts keys at every level and escapes like JSON.stringify', () => {
    expect(canonicalJson({ z: '"', a: [{ y: 1, x: 2 }] })).toBe('{"a":[{"x":2,"y":1}],"z":"\\""}')
  })
})

describe('tokenProblem', () => {
  it.each([
    ['phc_abc', null],
    ['', 'empty'],
    ['x'.repeat(64), null],
    ['x'.repeat(65), 'too_long'],
    ['phc_ö', 'not_ascii'],
    ['phc_\u{1f600}', 'not_ascii'],
    ['phx_personal', 'personal_api_key'],
    ['phc_\u0000', 'nul_byte'],
  ])('%j → %s', (token, problem) => {
    expect(tokenProblem(token)).toBe(problem)
  })
})

describe('eventUuid', () => {
  const canonical = '0190f0a0-1111-7abc-8def-00000000000a'
  it.each([
    [canonical],
    [canonical.toUpperCase()],
    [canonical.replaceAll('-', '')],
    [`{${canonical}}`],
    [`urn:uuid:${canonical}`],
  ])('reads %s', (value) => {
    expect(eventUuid(value)).toEqual({ kind: 'valid', uuid: canonical })
  })

  it.each([[undefined], [null], ['']])('%j is absent', (value) => {
    expect(eventUuid(value)).toEqual({ kind: 'absent' })
  })

  it.each([
    ['not-a-uuid'],
    [`${canonical}0`],
    ['0190f0a0-1111-7abc-8def-00000000000g'],
    ['0190f0a01-111-7abc-8def-00000000000a'],
    [`{${canonical}`],
    [12],
    [[canonical]],
  ])('%j is invalid', (value) => {
    expect(eventUuid(value)).toEqual({ kind: 'invalid' })
  })
})

/** The n-th (from 0) of the uuids counted up from `first`. */
function nthMintedUuid(first: string, n: number): string {
  const next = mintedUuids(first)
  for (let i = 0; i < n; i++) next()
  return next()
}

describe('mintedUuids', () => {
  it('counts up in the last 48 bits from the first uuid, wrapping within them', () => {
    const first = '0190f0a0-1234-7abc-9def-000000000009'
    expect(nthMintedUuid(first, 0)).toBe(first)
    expect(nthMintedUuid(first, 7)).toBe('0190f0a0-1234-7abc-9def-000000000010')
    expect(nthMintedUuid('0190f0a0-1234-7abc-9def-ffffffffffff', 2)).toBe(
      '0190f0a0-1234-7abc-9def-000000000001',
    )
  })

  it('gives distinct uuids for every n of a request, and the n-th of the k-th is the (k+n)-th', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9a-f]{12}$/), fc.nat(10_000), fc.nat(10_000), (tail, k, n) => {
        const first = `0190f0a0-1234-7abc-9def-${tail}`
        expect(nthMintedUuid(nthMintedUuid(first, k), n)).toBe(nthMintedUuid(first, k + n))
        if (n !== k) expect(nthMintedUuid(first, n)).not.toBe(nthMintedUuid(first, k))
      }),
    )
  })
})
