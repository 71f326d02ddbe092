import { isDependencyUnavailable } from '../../ports/failures.ts'
import type { Log, LogBatch, LogRecord } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'
import { deadLetterRecord } from '../../schema/dead-letter.ts'
import { Topics } from '../../schema/topics.ts'
import { commandsOfRequest } from './capture-request.ts'

export interface SplitDeps {
  log: Log
  logger: Logger
  now: () => Date
  /** The most capture messages one append carries (a request of many events adds all of its own). */
  maxCommandsPerAppend?: number
  /** Capture messages written, for the metrics. */
  onSplit?: (requests: number, commands: number) => void
}

/**
 * The split, off capture's path: the request records of one `capture_requests` partition become
 * PostHog's capture messages on `events_plugin_ingestion`, keyed by `token:distinct_id` so each
 * person's events keep their order on one partition, whatever request they came in — one append
 * for every 2 000 of them, one after the other, so that a batch of large requests is not held in
 * memory as a whole while its append waits for its sync (200 requests of 100 events were 20 000
 * messages at once, which every scavenge of the main heap copied: in pieces, the scavenges of a
 * 60 000-event burst took a fifth less time — docs/benchmarks.md). A record that cannot be split
 * is set aside in the dead letter queue with the reason. The batch's position is committed after
 * the last append: a crash before it writes its messages again, which ingest takes as PostHog's
 * at-least-once capture would have it (the same event uuids).
 */
export function createRequestSplitter(deps: SplitDeps): (batch: LogBatch) => Promise<void> {
  const maxCommands = deps.maxCommandsPerAppend ?? 2000
  return async (batch) => {
    let commands: LogRecord[] = []
    let written = 0
    const setAside: LogRecord[] = []
    for (const message of batch.messages) {
      try {
        for (const command of commandsOfRequest(message))
          commands.push({ key: `${command.token}:${command.distinct_id}`, value: JSON.stringify(command) })
      } catch (error) {
        if (isDependencyUnavailable(error)) throw error
        const reason = error instanceof Error ? error.message : String(error)
        deps.logger.warn(
          { topic: message.topic, partition: message.partition, offset: message.offset, reason },
          'a request record cannot be split; it goes to the dead letter queue',
        )
        setAside.push(
          deadLetterRecord(message, { step: 'split', code: 'request_unreadable', reason }, deps.now()),
        )
      }
      if (commands.length >= maxCommands) {
        await deps.log.append(Topics.commands, commands)
        written += commands.length
        commands = []
      }
    }
    await Promise.all([
      commands.length > 0 ? deps.log.append(Topics.commands, commands) : undefined,
      setAside.length > 0 ? deps.log.append(Topics.deadLetters, setAside) : undefined,
    ])
    deps.onSplit?.(batch.messages.length - setAside.length, written + commands.length)
  }
}
