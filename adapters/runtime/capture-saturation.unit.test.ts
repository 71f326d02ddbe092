import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import {
  type LoopTimes,
  loopSaturation,
  saturatedFrom,
  saturationWindowMs,
  unsaturatedUnder,
} from './capture-saturation.ts'

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
      let spinning = true
      const done = new Promise((resolve) => worker.once('message', resolve)).then(() => {
        spinning = false
      })
      const readings = async (keepOn: () => boolean) => {
        const seen: boolean[] = []
        while (keepOn()) {
          await new Promise((resolve) => setTimeout(resolve, saturationWindowMs))
          saturation.sample()
          seen.push(saturation.saturated())
        }
        return seen
      }
      // windows are read as the thread takes them, however late a busy machine runs the timers:
      // one of those read while it spins is busy, and once it idles it is soon read as idle
      worker.postMessage(1500)
      expect(await readings(() => spinning)).toContain(true)
      await done
      const idleBy = Date.now() + 10_000
      await readings(() => saturation.saturated() && Date.now() < idleBy)
      expect(saturation.saturated()).toBe(false)
    } finally {
      await worker.terminate()
    }
  })
})
