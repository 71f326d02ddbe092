import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { personUuid, personUuidNamespace } from './uuid.ts'

/** RFC 4122 §4.3 spelled out: SHA-1 of namespace bytes then name bytes, version and variant bits set. */
function rfc4122V5(name: string, namespace: string): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replaceAll('-', ''), 'hex'))
    .update(Buffer.from(name, 'utf8'))
    .digest()
    .subarray(0, 16)
  hash[6] = (hash[6]! & 0x0f) | 0x50
  hash[8] = (hash[8]! & 0x3f) | 0x80
  const hex = hash.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

// Computed by the hand-written SHA-1 sluice used before it took node:crypto's: persons already in a
// data dir carry these uuids, so a replay must derive the very same ones.
const uuidsOfEarlierReleases: [team: number, distinctId: string, uuid: string][] = [
  [1, 'user-1', '6931a681-6e90-500d-8294-14582dcc2e3f'],
  [2, 'user-1', '1e7731c8-945c-520d-96b9-e7f088242010'],
  [1, '', 'a29d8c7e-43ad-58a0-b250-c139a25aa918'],
  [1, 'anonymous-0192f3a1-7b3c-7d2e-8f00-123456789abc', 'dee0571e-952f-57b9-b717-8ec7d04fb960'],
  [42, 'émilie@example.com', '6cebde9f-73bd-5e26-91a5-1ca4bb2d4d50'],
  [7, '用户-测试', '349ecd8a-c430-5b92-8231-cccf3bae4647'],
  [99999, '🦊 fox', '065b944a-d106-5e61-8bfd-8aeef4ce3d26'],
  [1, 'a'.repeat(200), '242d128f-f3d3-570a-88fe-74439e3e50bd'],
  [3, 'distinct id with spaces', 'd17340eb-1bd3-5f25-8aa2-c1cdc977e63f'],
  [1, '12345', '6b1be37c-fd9f-57cb-8a28-923170086812'],
  [2147483647, 'max-team', '4fb5ea5b-d170-5022-91fd-c91b0b837165'],
  [5, '\u0000nul', '856830f6-e8cd-5ae1-bbf5-9b359bd60214'],
  [1, 'lone \ud800 surrogate', '3aa0caba-9946-5606-a32b-63b08e5f4c8d'],
  [2, 'test-distinct-id', 'b214ed70-e0aa-5614-a39d-5d6fe9cc4df0'],
]

describe('person uuids', () => {
  it.each(uuidsOfEarlierReleases)(
    'team %i, %j: the uuid earlier releases derived',
    (team, distinctId, uuid) => {
      expect(personUuid(team, distinctId)).toBe(uuid)
    },
  )

  it('are RFC 4122 version 5 uuids of "<team>:<distinct id>" in PostHog\'s namespace, for any id', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (distinctId, team) => {
          expect(personUuid(team, distinctId)).toBe(rfc4122V5(`${team}:${distinctId}`, personUuidNamespace))
        },
      ),
    )
  })
})
