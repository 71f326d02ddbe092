import { randomFillSync } from 'node:crypto'

// One call to the system's random source per 256 uuids instead of one per uuid: minting uuids for
// events that arrive without one is on capture's hot path.
const pool = Buffer.alloc(10 * 256)
let poolOffset = pool.length
const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** RFC 9562 UUIDv7: 48 bits of Unix milliseconds, then random bits — what PostHog's capture mints. */
export function uuidV7(now = Date.now()): string {
  if (poolOffset + 10 > pool.length) {
    randomFillSync(pool)
    poolOffset = 0
  }
  const r = poolOffset
  poolOffset += 10
  const ms = now.toString(16).padStart(12, '0')
  return (
    `${ms.slice(0, 8)}-${ms.slice(8, 12)}-` +
    `7${hex[pool[r]! & 0x0f]!.slice(1)}${hex[pool[r + 1]!]}-` +
    `${hex[(pool[r + 2]! & 0x3f) | 0x80]}${hex[pool[r + 3]!]}-` +
    `${hex[pool[r + 4]!]}${hex[pool[r + 5]!]}${hex[pool[r + 6]!]}${hex[pool[r + 7]!]}${hex[pool[r + 8]!]}${hex[pool[r + 9]!]}`
  )
}
