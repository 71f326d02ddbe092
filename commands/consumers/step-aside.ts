import type { LogBatch } from '../../ports/log.ts'

/** How often a batch that waits looks again whether it may go on. */
export const stepAsideCheckMs = 20

export interface StepAsideOptions {
  /** Whether what the consumer gives way to (capture's thread) has all it can take right now. */
  saturated(): boolean
  /**
   * How far behind the consumer may fall by waiting: a batch whose first record was appended this
   * long ago goes on whatever else is busy, and no batch waits longer than this.
   */
  maxLagMs: number
  now(): number
  sleep(ms: number): Promise<void>
  /** Told of the time a batch waited, as it waits (a gauge of it stays current during a long wait). */
  onWaited?(ms: number): void
}

export interface SteppingAside {
  eachBatch(batch: LogBatch): Promise<void>
  /** Lets every waiting batch go on, now and from now on (the consumer is stopping). */
  release(): void
}

/**
 * Has a consumer give way to a saturated capture for a while: before a batch it waits while capture
 * is saturated, until its records are `maxLagMs` old. A burst is then taken at capture's full speed
 * and worked through once it is over, as a log between separate capture and ingestion services
 * would have it; a burst that lasts longer than the bound is shared again, so the lag it leaves
 * stays bounded.
 */
export function stepAsideWhileSaturated(
  eachBatch: (batch: LogBatch) => Promise<void>,
  options: StepAsideOptions,
): SteppingAside {
  let released = false
  return {
    async eachBatch(batch) {
      const first = batch.messages[0]
      if (first !== undefined) {
        const started = options.now()
        // bounded by the wait too: a record stamped by a clock ahead of ours must not hold it longer
        const mayWait = () => {
          const now = options.now()
          return now - first.timestamp < options.maxLagMs && now - started < options.maxLagMs
        }
        while (!released && mayWait() && options.saturated()) {
          const before = options.now()
          await options.sleep(stepAsideCheckMs)
          options.onWaited?.(options.now() - before)
        }
      }
      await eachBatch(batch)
    },
    release() {
      released = true
    },
  }
}
