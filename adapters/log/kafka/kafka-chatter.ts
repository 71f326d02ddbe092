import { type LogEntry, type logCreator, logLevel } from 'kafkajs'
import type { Logger } from '../../../ports/logger.ts'

/**
 * What kafkajs says that sluice does not say itself: a consumer that jumped to another offset
 * (records skipped or read twice), an authentication the broker refused, a listener of ours that
 * threw. (Its warning that limited retries "may invalidate EoS guarantees" is not among them:
 * sluice limits them on purpose — an append not durable in time is answered 503 for the SDK to
 * retry, and ingest is idempotent. Nor is "Response without match": a response to a request
 * kafkajs had already given up on, or that arrives as a consumer disconnects at a stop; the request
 * that timed out is reported where it failed.)
 */
const meaningful = [/Offset out of range/i, /SASL|authenticat/i, /Failed to execute listener/i]

/**
 * Where a kafkajs log entry goes. kafkajs logs at error level what is routine in a consumer group —
 * "The group is rebalancing", coordinator lookups, a member rejoining — and every retry of a
 * connection, each with its stack. Every failure among them already reaches sluice's own code, which
 * reports it once (capture's 503 line, the consumer's failure streak, the wait at start), so they
 * are debug; only what `meaningful` lists reaches the operator, as a warning.
 */
export function kafkaLogLevel(entry: Pick<LogEntry, 'level' | 'log'>): 'warn' | 'debug' {
  if (entry.level > logLevel.WARN) return 'debug'
  return meaningful.some((pattern) => pattern.test(entry.log.message)) ? 'warn' : 'debug'
}

/** kafkajs's logs into sluice's logger, at the level `kafkaLogLevel` gives them. */
export function kafkaLogCreator(logger: Logger | undefined): logCreator {
  return () => (entry) => {
    if (logger === undefined) return
    const { message, timestamp: _, ...fields } = entry.log
    logger[kafkaLogLevel(entry)]({ ...fields, namespace: entry.namespace }, `kafka: ${message}`)
  }
}
