import { type ListedDeadLetter, listDeadLetters, replayDeadLetters } from '../../commands/dlq/dead-letters.ts'
import { postgresDeadLetterReplays } from '../../projections/postgres/dead-letter-replays.ts'
import type { DeadLetter } from '../../schema/dead-letter.ts'
import { Topics } from '../../schema/topics.ts'
import type { SluiceConfig } from '../runtime/config.ts'
import { createLogger } from '../runtime/logger.ts'
import { openBackends } from '../runtime/open-backends.ts'
import { runningSluice } from './running-sluice.ts'

/** The dead letter queue, through the sluice that holds the data dir, or opened here when none runs. */
interface DeadLetterQueue {
  list(): Promise<ListedDeadLetter[]>
  replay(ids?: readonly string[]): Promise<DeadLetter[]>
  close(): Promise<void>
}

const needs = { log: true, clickhouse: false } as const

async function openDeadLetterQueue(config: SluiceConfig, command: string): Promise<DeadLetterQueue> {
  const running = runningSluice(config, needs)
  if (running) {
    return {
      list: async () =>
        (await running.get<{ results: ListedDeadLetter[] }>('/_control/dead_letters/')).results,
      replay: async (ids) =>
        (await running.post<{ replayed: DeadLetter[] }>('/_control/dead_letters/replay/', { ids })).replayed,
      close: async () => {},
    }
  }
  const backends = await openBackends(config, needs, { command, logger: createLogger(config) })
  const replays = postgresDeadLetterReplays(backends.db)
  return {
    list: () => listDeadLetters(backends.log, replays),
    replay: (ids) => replayDeadLetters(backends.log, replays, new Date(), ids),
    close: () => backends.close(),
  }
}

async function withDeadLetterQueue<T>(
  config: SluiceConfig,
  command: string,
  work: (queue: DeadLetterQueue) => Promise<T>,
): Promise<T> {
  const queue = await openDeadLetterQueue(config, command)
  try {
    return await work(queue)
  } finally {
    await queue.close()
  }
}

/** `sluice dlq list`: every dead letter with its step, reason and whether it was replayed. */
export async function runDlqList(config: SluiceConfig, json: boolean): Promise<void> {
  const letters = await withDeadLetterQueue(config, 'sluice dlq list', (queue) => queue.list())
  if (json) {
    console.log(JSON.stringify(letters))
    return
  }
  if (letters.length === 0) {
    console.log(`The dead letter queue (${Topics.deadLetters}) is empty.`)
    return
  }
  for (const letter of letters) {
    const replayed = letter.replayedAt
      ? `replayed ${letter.replays}× (last ${letter.replayedAt})`
      : 'not replayed'
    const code = letter.code ? ` ${letter.code}` : ''
    console.log(`${letter.id}  ${letter.at}  ${letter.step}${code}  ${replayed}\n  ${letter.reason}`)
  }
  const waiting = letters.filter((l) => l.replayedAt === null).length
  console.log(`${letters.length} dead letters, ${waiting} not replayed.`)
}

/** `sluice dlq replay [--id X]`: appends letters to the topics they came from again. */
export async function runDlqReplay(config: SluiceConfig, ids: string[] | undefined): Promise<void> {
  const replayed = await withDeadLetterQueue(config, 'sluice dlq replay', (queue) => queue.replay(ids))
  const topics = [...new Set(replayed.map((l) => l.topic))].join(', ')
  console.log(
    replayed.length === 0
      ? 'Nothing to replay: every dead letter was replayed already (name one with --id to replay it again).'
      : `Replayed ${replayed.length} dead letters into ${topics}; they are processed as sluice runs.`,
  )
}
