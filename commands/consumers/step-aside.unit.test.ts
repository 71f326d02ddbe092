import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { LogBatch } from '../../ports/log.ts'
import { stepAsideCheckMs, stepAsideWhileSaturated } from './step-aside.ts'

const batchAppendedAt = (timestamp: number, count = 1): LogBatch => ({
  topic: 'capture_requests',
  partition: 0,
  messages: Array.from({ length: count }, (_, offset) => ({
    topic: 'capture_requests',
    partition: 0,
    offset,
    timestamp: timestamp + offset,
    key: null,
    value: '{}',
  })),
})

/** A clock that only moves when the code under test sleeps. */
function simulatedClock(start: number) {
  const clock = { now: start, sleeps: 0 }
  return {
    clock,
    now: () => clock.now,
    sleep: async (ms: number) => {
      clock.sleeps++
      clock.now += ms
    },
  }
}

describe('stepping aside for a saturated capture', () => {
  it('hands a batch over at once while capture is not saturated', async () => {
    const { clock, now, sleep } = simulatedClock(10_000)
    const handled: number[] = []
    const waited: number[] = []
    const aside = stepAsideWhileSaturated(async (batch) => void handled.push(batch.messages.length), {
      saturated: () => false,
      maxLagMs: 10_000,
      now,
      sleep,
      onWaited: (ms) => waited.push(ms),
    })
    await aside.eachBatch(batchAppendedAt(9_990, 3))
    expect(handled).toEqual([3])
    expect(clock.sleeps).toBe(0)
    expect(waited).toEqual([])
  })

  it('waits while capture is saturated and goes on once it is not', async () => {
    const { clock, now, sleep } = simulatedClock(10_000)
    let handledAt: number | null = null
    const waited: number[] = []
    const aside = stepAsideWhileSaturated(
      async () => {
        handledAt = clock.now
      },
      {
        saturated: () => clock.now < 10_500,
        maxLagMs: 10_000,
        now,
        sleep,
        onWaited: (ms) => waited.push(ms),
      },
    )
    await aside.eachBatch(batchAppendedAt(10_000))
    expect(handledAt).toBe(10_500)
    // told as it waits, one look at a time
    expect(waited).toEqual(Array(500 / stepAsideCheckMs).fill(stepAsideCheckMs))
  })

  it('never lets a batch fall further behind than the bound, whatever the clocks', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: -5_000, max: 30_000 }),
        async (maxLagMs, appendedAgo) => {
          const { clock, now, sleep } = simulatedClock(1_000_000)
          let handledAt: number | null = null
          const aside = stepAsideWhileSaturated(
            async () => {
              handledAt = clock.now
            },
            { saturated: () => true, maxLagMs, now, sleep },
          )
          const appendedAt = clock.now - appendedAgo
          await aside.eachBatch(batchAppendedAt(appendedAt))
          expect(handledAt).not.toBeNull()
          const waitedMs = handledAt! - 1_000_000
          // no longer than the bound allows, by record age and by the wait itself
          expect(waitedMs).toBeLessThan(maxLagMs + stepAsideCheckMs)
          expect(Math.max(0, handledAt! - appendedAt)).toBeLessThan(
            Math.max(appendedAgo, maxLagMs) + stepAsideCheckMs,
          )
          // and no sooner than it had to, when it waited at all
          if (appendedAgo < maxLagMs && maxLagMs > 0) expect(waitedMs).toBeGreaterThan(0)
        },
      ),
    )
  })

  it('lets waiting batches go at once when released', async () => {
    let saturated = true
    const handled: string[] = []
    const aside = stepAsideWhileSaturated(async (batch) => void handled.push(batch.topic), {
      saturated: () => saturated,
      maxLagMs: 10_000,
      now: () => Date.now(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    })
    const waiting = aside.eachBatch(batchAppendedAt(Date.now()))
    await new Promise((resolve) => setTimeout(resolve, 3 * stepAsideCheckMs))
    expect(handled).toEqual([])
    aside.release()
    await waiting
    expect(handled).toEqual(['capture_requests'])
    // and from then on, saturated or not
    await aside.eachBatch(batchAppendedAt(Date.now()))
    expect(handled).toHaveLength(2)
    saturated = false
  })

  it('hands an empty batch over as it is', async () => {
    const handled: number[] = []
    const aside = stepAsideWhileSaturated(async (batch) => void handled.push(batch.messages.length), {
      saturated: () => true,
      maxLagMs: 10_000,
      now: () => 0,
      sleep: async () => {
        throw new Error('must not wait')
      },
    })
    await aside.eachBatch({ topic: 'capture_requests', partition: 0, messages: [] })
    expect(handled).toEqual([0])
  })
})
