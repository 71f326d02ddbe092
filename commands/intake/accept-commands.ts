import { type Log, type LogRecord, LogUnavailableError } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'
import type { Project } from '../../ports/projects.ts'
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
  /**
   * The project a token belongs to, which capture needs before it writes commands (its
   * `anonymize_ips`). Throws UnknownTokenError for a token no project has. `undefined` when Postgres
   * cannot be reached and the token was never seen: the commands are then passed on undecided, for
   * ingest to resolve (or dead-letter), so an outage of Postgres never makes capture drop events.
   */
  projectOf(token: string): Promise<Project | undefined>
  /** Resolves once the request's records are durably in the log; throws if none of it should count as accepted. */
  accept(records: readonly LogRecord[]): Promise<void>
  pendingBytes(): number
}

/** Capture's last steps: which project a request is for, then the durable append. */
export function createCommandIntake(options: CommandIntakeOptions): CommandIntake {
  const maxPendingBytes = options.maxPendingBytes ?? 256 * 1024 * 1024
  let pending = 0
  return {
    projectOf: (token) => projectOf(options, token),
    pendingBytes: () => pending,
    async accept(records) {
      if (records.length === 0) return
      const bytes = records.reduce((sum, r) => sum + r.value.length, 0)
      if (pending + bytes > maxPendingBytes) throw new CaptureOverloadedError(pending)
      pending += bytes
      try {
        await options.log.append(Topics.captureRequests, [...records])
      } catch (error) {
        if (error instanceof LogUnavailableError) throw error
        throw new LogUnavailableError('appending to the command log failed', {
          topic: Topics.captureRequests,
          cause: error,
        })
      } finally {
        pending -= bytes
      }
    },
  }
}

async function projectOf(options: CommandIntakeOptions, token: string): Promise<Project | undefined> {
  let project: Project | null
  try {
    project = await options.tokens.resolve(token)
  } catch (error) {
    // What was last known of the token stands in for the store while it is away.
    const cached = options.tokens.cached(token)
    if (cached === null) throw new UnknownTokenError(token)
    options.logger.warn(
      { err: error, token },
      cached === undefined
        ? 'project store unreachable; passing the token on to ingest'
        : 'project store unreachable; using the project as last seen',
    )
    return cached
  }
  if (project === null) throw new UnknownTokenError(token)
  return project
}
