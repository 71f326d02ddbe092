/** Node's measure of a thread's event loop: milliseconds spent working and waiting for work. */
export interface LoopTimes {
  active: number
  idle: number
}

/** Capture's thread counts as saturated once busy this share of a window… */
export const saturatedFrom = 0.7
/** …and again as not once under this one: between the two it stays as it was, so it does not flap. */
export const unsaturatedUnder = 0.4
/** How often the thread's loop is looked at. */
export const saturationWindowMs = 100

/**
 * Whether a thread's event loop has all it can take: its share of time working over the last
 * window, with hysteresis. A thread blocked on a core another thread holds counts as working — which
 * is the point: the consumers that give way for it (step-aside.ts) are what it waits behind.
 */
export function loopSaturation(read: () => LoopTimes) {
  let last = read()
  let saturated = false
  return {
    /** Takes a new window's reading; called every `saturationWindowMs`. */
    sample(): void {
      const current = read()
      let active = current.active - last.active
      let idle = current.idle - last.idle
      // a thread started again counts from zero
      if (active < 0 || idle < 0) ({ active, idle } = current)
      last = current
      if (active + idle <= 0) return
      saturated = active / (active + idle) >= (saturated ? unsaturatedUnder : saturatedFrom)
    },
    saturated: () => saturated,
  }
}
