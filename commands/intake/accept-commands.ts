import { type Log, type LogRecord, LogUnavailableError } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'
import type { CaptureCommand } from '../../schema/command.ts'
import { Topics } from '../../schema/topics.ts'
import type { TokenCache } from '../projects/token-cache.ts'

export class UnknownTokenError extends Error {
  override readonly name = 'UnknownTokenError'
  constructor(readonly token: string) {
    super(`No project has the token ${token}.`)
  }
}

/** The log cannot take more right now; the client should retry (503), nothing was accepted. */
export class CaptureOverloadedError extends Error {
  override readonly name = 'CaptureOverloadedError'
  constructor(readonly pendingBytes: number) {
    super(`capture has ${pendingBytes} bytes waiting for the log; retry shortly`)
  }
}

export interface CommandIntakeOptions {
  tokens: TokenCache
  log: Log
  logger: Logger
  /** Bytes that may wait for a durable append before new requests get 503 instead of memory. */
  maxPendingBytes?: number
}

export interface CommandIntake {
  /** Resolves once every command is durably in the command log; throws if none of it should count as accepted. */
  accept(token: string, commands: readonly CaptureCommand[]): Promise<void>
  pendingBytes(): number
}

/**
 * Capture's last step. Unknown tokens are refused while Postgres can say they are unknown; when it
 * cannot be reached, the events are passed on for ingest to resolve (or dead-letter), so an outage
 * of Postgres never makes capture drop events.
 */
export function createCommandIntake(options: CommandIntakeOptions): CommandIntake {
  const maxPendingBytes = options.maxPendingBytes ?? 256 * 1024 * 1024
  let pending = 0
  return {
    pendingBytes: () => pending,
    async accept(token, commands) {
      if (commands.length === 0) return
      await checkToken(options, token)
      const records: LogRecord[] = commands.map((command) => ({
        key: `${command.token}:${command.distinct_id}`,
        value: JSON.stringify(command),
      }))
      const bytes = records.reduce((sum, r) => sum + r.value.length, 0)
      if (pending + bytes > maxPendingBytes) throw new CaptureOverloadedError(pending)
      pending += bytes
      try {
        await options.log.append(Topics.commands, records)
      } catch (error) {
        if (error instanceof LogUnavailableError) throw error
        throw new LogUnavailableError('appending to the command log failed', {
          topic: Topics.commands,
          cause: error,
        })
      } finally {
        pending -= bytes
      }
    },
  }
}

async function checkToken(options: CommandIntakeOptions, token: string): Promise<void> {
  let project: Awaited<ReturnType<TokenCache['resolve']>>
  try {
    project = await options.tokens.resolve(token)
  } catch (error) {
    if (options.tokens.cached(token) === null) throw new UnknownTokenError(token)
    options.logger.warn({ err: error, token }, 'project store unreachable; passing the token on to ingest')
    return
  }
  if (project === null) throw new UnknownTokenError(token)
}
