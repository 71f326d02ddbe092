import { randomFillSync } from 'node:crypto'

// One call to the system's random source per 256 uuids instead of one per uuid, and the
// millisecond prefix formatted once per millisecond: minting uuids for events that arrive without
// one is on capture's hot path.
const pool = Buffer.alloc(10 * 256)
let poolOffset = pool.length
let prefixMs = -1
let prefix = ''
const variantNibbles = ['8', '9', 'a', 'b']

/** RFC 9562 UUIDv7: 48 bits of Unix milliseconds, then random bits — what PostHog's capture mints. */
export function uuidV7(now = Date.now()): string {
  if (poolOffset + 10 > pool.length) {
    randomFillSync(pool)
    poolOffset = 0
  }
  const r = poolOffset
  poolOffset += 10
  if (now !== prefixMs) {
    const ms = now.toString(16).padStart(12, '0')
    prefix = `${ms.slice(0, 8)}-${ms.slice(8, 12)}-7`
    prefixMs = now
  }
  // 20 random hex digits: the version takes the place of the 1st, whose top two bits go to the
  // variant nibble, which takes the place of the 5th — 74 random bits, as RFC 9562 has them.
  const random = pool.toString('hex', r, r + 10)
  return `${prefix}${random.slice(1, 4)}-${variantNibbles[pool[r]! >> 6]}${random.slice(5, 8)}-${random.slice(8)}`
}
