import type { Logger } from '../../ports/logger.ts'

let installed = false

/**
 * A promise rejected with no handler must never take the pipeline down: it is logged and the
 * process goes on. lmdb rejects a promise of its own, which nothing can handle, when a commit fails
 * (a full disk); the embedded log already reports that failure to its caller, so it is logged at
 * debug only.
 */
export function logUnhandledRejections(logger: Logger): void {
  if (installed) return
  installed = true
  process.on('unhandledRejection', (reason) => {
    if (typeof reason === 'object' && reason !== null && 'commitError' in reason) {
      ;(reason as { commitError: Promise<unknown> }).commitError.catch(() => {})
      logger.debug({ err: reason }, 'an lmdb commit failed; its caller was told')
      return
    }
    logger.error({ err: reason }, 'a promise was rejected and nothing handled it; sluice goes on')
  })
}
