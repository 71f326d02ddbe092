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
  /** Capture messages written, for the metrics. */
  onSplit?: (requests: number, commands: number) => void
}

/**
 * The split, off capture's path: the request records of one `capture_requests` partition become
 * PostHog's capture messages on `events_plugin_ingestion`, keyed by `token:distinct_id` so each
 * person's events keep their order on one partition, whatever request they came in — one append
 * for the whole batch. A record that cannot be split is set aside in the dead letter queue with the
 * reason. The batch's position is committed after the append: a crash in between writes its
 * messages again, which ingest takes as PostHog's at-least-once capture would have it (the same
 * event uuids).
 */
export function createRequestSplitter(deps: SplitDeps): (batch: LogBatch) => Promise<void> {
  return async (batch) => {
    const commands: LogRecord[] = []
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
    }
    await Promise.all([
      deps.log.append(Topics.commands, commands),
      setAside.length > 0 ? deps.log.append(Topics.deadLetters, setAside) : undefined,
    ])
    deps.onSplit?.(batch.messages.length - setAside.length, commands.length)
  }
}
