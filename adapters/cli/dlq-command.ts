import { listDeadLetters, replayDeadLetters } from '../../commands/dlq/dead-letters.ts'
import type { DeadLetterReplays } from '../../ports/dead-letter-replays.ts'
import type { Log } from '../../ports/log.ts'
import { postgresDeadLetterReplays } from '../../projections/postgres/dead-letter-replays.ts'
import { Topics } from '../../schema/topics.ts'
import { openPostgres } from '../postgres/connect.ts'
import { openLog, postgresConfig, topicSpecs } from '../runtime/backends.ts'
import { type SluiceConfig, usesDataDir } from '../runtime/config.ts'
import { lockDataDir } from '../runtime/data-dir-lock.ts'
import { createLogger } from '../runtime/logger.ts'

async function withDeadLetters<T>(
  config: SluiceConfig,
  command: string,
  work: (log: Log, replays: DeadLetterReplays) => Promise<T>,
): Promise<T> {
  const lock = usesDataDir(config) ? lockDataDir(config.dataDir, command) : null
  const db = await openPostgres(postgresConfig(config))
  const log = await openLog(config, createLogger())
  try {
    await log.ensureTopics(topicSpecs(config))
    return await work(log, postgresDeadLetterReplays(db))
  } finally {
    await log.close()
    await db.destroy()
    lock?.release()
  }
}

/** `sluice dlq list`: every dead letter with its step, reason and whether it was replayed. */
export async function runDlqList(config: SluiceConfig, json: boolean): Promise<void> {
  const letters = await withDeadLetters(config, 'sluice dlq list', listDeadLetters)
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
    console.log(`${letter.id}  ${letter.at}  ${letter.step}  ${replayed}\n  ${letter.reason}`)
  }
  const waiting = letters.filter((l) => l.replayedAt === null).length
  console.log(`${letters.length} dead letters, ${waiting} not replayed.`)
}

/** `sluice dlq replay [--id X]`: appends letters to the topics they came from again. */
export async function runDlqReplay(config: SluiceConfig, ids: string[] | undefined): Promise<void> {
  const replayed = await withDeadLetters(config, 'sluice dlq replay', (log, replays) =>
    replayDeadLetters(log, replays, new Date(), ids),
  )
  const topics = [...new Set(replayed.map((l) => l.topic))].join(', ')
  console.log(
    replayed.length === 0
      ? 'Nothing to replay: every dead letter was replayed already (name one with --id to replay it again).'
      : `Replayed ${replayed.length} dead letters into ${topics}; they are processed as sluice runs.`,
  )
}
