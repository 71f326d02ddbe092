import { describe, expect, it } from 'vitest'
import { gatheringMs } from './log.ts'

describe('gatheringMs', () => {
  const gather = { perMessageMs: 10, maxMs: 250 }
  it('lets a busier partition gather longer, up to the limit; a full batch, or no gathering, none', () => {
    expect(gatheringMs(1, { maxBatchSize: 5000, gather })).toBe(10)
    expect(gatheringMs(12, { maxBatchSize: 5000, gather })).toBe(120)
    expect(gatheringMs(4999, { maxBatchSize: 5000, gather })).toBe(250)
    expect(gatheringMs(5000, { maxBatchSize: 5000, gather })).toBe(0)
    expect(gatheringMs(300, { maxBatchSize: 5000 })).toBe(0)
  })
})
