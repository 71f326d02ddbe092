import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { type LoopTimes, loopSaturation, saturatedFrom, unsaturatedUnder } from './capture-saturation.ts'

describe("capture's thread saturation", () => {
  it('turns on at the upper share, off under the lower one, and holds between them', () => {
    let times: LoopTimes = { active: 0, idle: 0 }
    const saturation = loopSaturation(() => times)
    const windowBusy = (share: number) => {
      times = { active: times.active + 100 * share, idle: times.idle + 100 * (1 - share) }
      saturation.sample()
      return saturation.saturated()
    }
    expect(windowBusy(saturatedFrom - 0.05)).toBe(false)
    expect(windowBusy(saturatedFrom)).toBe(true)
    expect(windowBusy((saturatedFrom + unsaturatedUnder) / 2)).toBe(true)
    expect(windowBusy(unsaturatedUnder)).toBe(true)
    expect(windowBusy(unsaturatedUnder - 0.05)).toBe(false)
    expect(windowBusy((saturatedFrom + unsaturatedUnder) / 2)).toBe(false)
    expect(windowBusy(1)).toBe(true)
    // a window with no time in it says nothing new
    saturation.sample()
    expect(saturation.saturated()).toBe(true)
  })

  it('counts a thread started again from zero', () => {
    let times: LoopTimes = { active: 5_000, idle: 1_000 }
    const saturation = loopSaturation(() => times)
    times = { active: 90, idle: 10 }
    saturation.sample()
    expect(saturation.saturated()).toBe(true)
  })

  it("reads a real worker's loop: busy while it spins, not once it idles", async () => {
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads')
       parentPort.on('message', (ms) => { const end = Date.now() + ms; while (Date.now() < end); parentPort.postMessage('done') })`,
      { eval: true },
    )
    try {
      await new Promise((resolve) => worker.once('online', resolve))
      const saturation = loopSaturation(() => worker.performance.eventLoopUtilization())
      const done = new Promise((resolve) => worker.once('message', resolve))
      // spins far longer than the window, so that a late timer on a busy machine still reads it busy
      worker.postMessage(1500)
      await new Promise((resolve) => setTimeout(resolve, 200))
      saturation.sample()
      expect(saturation.saturated()).toBe(true)
      await done
      saturation.sample() // the window that ends with the spin
      await new Promise((resolve) => setTimeout(resolve, 300))
      saturation.sample()
      expect(saturation.saturated()).toBe(false)
    } finally {
      await worker.terminate()
    }
  })
})
