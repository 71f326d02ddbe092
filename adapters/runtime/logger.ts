import pino from 'pino'
import type { Logger } from '../../ports/logger.ts'

/** Structured JSON logs on stderr, quiet by default (warnings and errors); SLUICE_LOG_LEVEL=info for more. */
export function createLogger(level = process.env.SLUICE_LOG_LEVEL ?? 'warn'): Logger & { level: string } {
  return pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination(2),
  )
}
