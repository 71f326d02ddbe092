import { describe, expect, it } from 'vitest'
import { liveWindowMs, pollAfter } from './polling.ts'

describe('each poll of the live view asks only for the last minutes', () => {
  const now = Date.parse('2026-12-01T12:00:00.000Z')

  it('asks for the newest events whatever their time until the first answer', () => {
    expect(pollAfter(undefined, false, now)).toBeUndefined()
  })

  it('then for the window before the newest listed event', () => {
    expect(liveWindowMs).toBe(5 * 60_000)
    expect(pollAfter('2026-12-01T11:30:00.000Z', true, now)).toBe('2026-12-01T11:25:00.000Z')
  })

  it('before now when nothing is listed, or when the newest event claims a time ahead of the clock', () => {
    expect(pollAfter(undefined, true, now)).toBe('2026-12-01T11:55:00.000Z')
    expect(pollAfter('2027-01-01T00:00:00.000Z', true, now)).toBe('2026-12-01T11:55:00.000Z')
  })
})
