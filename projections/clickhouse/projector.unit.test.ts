import { describe, expect, it } from 'vitest'
import { gatheringMs } from './projector.ts'

describe('gatheringMs', () => {
  it('lets a busy table gather longer, up to the limit, and a full batch none', () => {
    expect(gatheringMs(1, 5000, 250)).toBe(10)
    expect(gatheringMs(12, 5000, 250)).toBe(120)
    expect(gatheringMs(4999, 5000, 250)).toBe(250)
    expect(gatheringMs(5000, 5000, 250)).toBe(0)
    expect(gatheringMs(300, 5000, 0)).toBe(0)
  })
})
