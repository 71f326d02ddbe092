import type { Logger } from '../../ports/logger.ts'

interface Step {
  /** What is waited for, as a person reads it: "ingest to finish the batch in hand". */
  what: string
  close: () => Promise<void> | void
}

/** How long a step may take before sluice says it is still waiting for it. */
const slowStepMs = 1500

/**
 * What was opened, to be closed in reverse order — on stop, and on every failure half way through
 * opening, so a failed start releases the data dir and leaves nothing running. Each step is closed
 * even when an earlier one failed; a failure is logged, not thrown.
 */
export class ShutdownSteps {
  private readonly steps: Step[] = []

  add(what: string, close: () => Promise<void> | void): void {
    this.steps.push({ what, close })
  }

  /** What closing will wait for, in the order it will. */
  pending(): string[] {
    return this.steps.map((step) => step.what).reverse()
  }

  async closeAll(logger: Logger, stillWaiting?: (what: string) => void): Promise<void> {
    for (let step = this.steps.pop(); step !== undefined; step = this.steps.pop()) {
      const { what } = step
      const slow = stillWaiting ? setTimeout(() => stillWaiting(what), slowStepMs) : undefined
      try {
        await step.close()
      } catch (error) {
        logger.warn({ err: error, step: what }, `closing failed: ${what}`)
      } finally {
        clearTimeout(slow)
      }
    }
  }
}
