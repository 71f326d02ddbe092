import { validate, version } from 'uuid'
import { describe, expect, it } from 'vitest'
import { uuidV7 } from './uuid-v7.ts'

describe('uuid v7', () => {
  it('is a valid version 7 uuid carrying the time, and unique', () => {
    const now = Date.UTC(2026, 10, 25, 12)
    const ids = Array.from({ length: 2000 }, () => uuidV7(now))
    for (const id of ids) {
      expect(validate(id)).toBe(true)
      expect(version(id)).toBe(7)
      expect(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(now)
      expect(['8', '9', 'a', 'b']).toContain(id[19])
    }
    expect(new Set(ids).size).toBe(ids.length)
  })
})
