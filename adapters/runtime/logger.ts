import pino from 'pino'
import type { Logger } from '../../ports/logger.ts'
import { defaults, type LogLevel, type SluiceConfig } from './config.ts'
import { formatLogLine } from './log-lines.ts'

export type LoggerOptions = Partial<Pick<SluiceConfig, 'logLevel' | 'logFormat'>>

/**
 * Structured logs on stderr, quiet by default (warnings and errors; SLUICE_LOG_LEVEL=info for
 * more): readable lines on a terminal, JSON lines for a machine — when stderr is not a terminal, or
 * with `--log-format json`.
 */
export function createLogger(options: LoggerOptions = {}): Logger & { level: string } {
  const level =
    options.logLevel ?? (process.env.SLUICE_LOG_LEVEL as LogLevel | undefined) ?? defaults.logLevel
  const format = options.logFormat ?? defaults.logFormat
  const pretty = format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true)
  if (!pretty)
    return pino(
      { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
      pino.destination(2),
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
