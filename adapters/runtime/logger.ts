import pino from 'pino'
import type { Logger } from '../../ports/logger.ts'
import type { SluiceConfig } from './config.ts'
import { formatLogLine } from './log-lines.ts'

/** `auto` made definite: pretty on a terminal — for a thread whose own stderr is not one. */
export function resolvedLogFormat(config: Pick<SluiceConfig, 'logFormat'>): 'pretty' | 'json' {
  if (config.logFormat !== 'auto') return config.logFormat
  return process.stderr.isTTY === true ? 'pretty' : 'json'
}

/**
 * Structured logs on stderr, quiet by default (warnings and errors; SLUICE_LOG_LEVEL=info for
 * more): readable lines on a terminal, JSON lines for a machine — when stderr is not a terminal, or
 * with `--log-format json`.
 */
export function createLogger(
  config: Pick<SluiceConfig, 'logLevel' | 'logFormat'>,
): Logger & { level: string } {
  const level = config.logLevel
  const pretty = resolvedLogFormat(config) === 'pretty'
  if (!pretty)
    return pino(
      { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
      // process.stderr, not pino.destination(2): a stderr whose reader is gone must cost a line, not
      // the process (process-end.ts), and pino.destination's writer retries such a write for ever
      // when it flushes at exit — the process hung
      process.stderr,
    )
  const lineOptions = {
    colors: process.stderr.isTTY === true && !process.env.NO_COLOR,
    stacks: level === 'debug' || level === 'trace',
  }
  return pino(
    { level, base: null },
    { write: (json: string) => process.stderr.write(formatLogLine(JSON.parse(json), lineOptions)) },
  )
}
