import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { v5 } from 'uuid'
import { describe, expect, it } from 'vitest'
import { sha1 } from './sha1.ts'
import { personUuid, personUuidNamespace, uuidV5 } from './uuid.ts'

describe('hashes', () => {
  it('sha1 agrees with node:crypto on any input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(Buffer.from(sha1(bytes)).toString('hex')).toBe(createHash('sha1').update(bytes).digest('hex'))
      }),
    )
  })

  it('uuid v5 agrees with the uuid package, and person uuids derive from team and distinct id', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 1_000_000 }), (distinctId, team) => {
        expect(personUuid(team, distinctId)).toBe(v5(`${team}:${distinctId}`, personUuidNamespace))
      }),
    )
    expect(uuidV5('hello', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe(
      v5('hello', '6ba7b810-9dad-11d1-80b4-00c04fd430c8'),
    )
  })
})
