import type { Log, LogBatch } from '../../../ports/log.ts'
import type { RawEvent } from '../../../schema/command.ts'
import { Topics } from '../../../schema/topics.ts'
import { buildCaptureCommands } from '../../capture/build-commands.ts'

export const captureTime = new Date('2026-11-25T00:00:00.000Z')

/** Uuids that count up, so every event of a test run has its own. */
export function countingUuids(): () => string {
  let counter = 0
  return () => `0190f0a0-0000-7000-8000-${(++counter).toString(16).padStart(12, '0')}`
}

/**
 * Appends events to partition 0 of the command log as capture would have (one request), and
 * returns them as the batch a consumer would be handed.
 */
export async function appendCaptured(
  log: Log,
  events: RawEvent[],
  token: string,
  newUuid: () => string,
): Promise<LogBatch> {
  const { commands } = buildCaptureCommands(
    {
      payload: JSON.stringify(events),
      path: '/batch',
      events,
      batchToken: token,
      sentAt: null,
      historicalMigration: false,
      allDiscarded: false,
    },
    { now: captureTime, ip: '10.0.0.1', newUuid },
  )
  const before = (await log.endOffsets(Topics.commands)).get(0) ?? 0
  await log.append(
    Topics.commands,
    commands.map((c) => ({ key: `${c.token}:${c.distinct_id}`, value: JSON.stringify(c) })),
  )
  return {
    topic: Topics.commands,
    partition: 0,
    messages: await log.read(Topics.commands, 0, before, 100_000),
  }
}
