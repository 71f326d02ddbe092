import type { DeadLetterReplays } from '../../ports/dead-letter-replays.ts'
import type { Log } from '../../ports/log.ts'
import type { DeadLetter } from '../../schema/dead-letter.ts'
import { Topics } from '../../schema/topics.ts'

export interface ListedDeadLetter extends DeadLetter {
  /** When `sluice dlq replay` last appended it again, or null. */
  replayedAt: string | null
  replays: number
}

/** Every letter the dead letter queue holds, oldest first, with whether it was replayed. */
export async function listDeadLetters(log: Log, replays: DeadLetterReplays): Promise<ListedDeadLetter[]> {
  const replayed = await replays.replayed()
  const letters: ListedDeadLetter[] = []
  const seen = new Set<string>()
  for (const [partition, end] of await log.endOffsets(Topics.deadLetters)) {
    for (let offset = 0; offset < end; ) {
      const messages = await log.read(Topics.deadLetters, partition, offset, Math.min(1000, end - offset))
      if (messages.length === 0) break
      for (const message of messages) {
        const letter = JSON.parse(message.value) as DeadLetter
        // `sluice replay` re-runs ingest, which dead-letters the same commands again under the same ids
        if (seen.has(letter.id)) continue
        seen.add(letter.id)
        const replay = replayed.get(letter.id)
        letters.push({ ...letter, replayedAt: replay?.at ?? null, replays: replay?.replays ?? 0 })
      }
      offset = messages.at(-1)!.offset + 1
    }
  }
  return letters.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
}

export class UnknownDeadLetterError extends Error {
  override readonly name = 'UnknownDeadLetterError'
  constructor(readonly id: string) {
    super(`The dead letter queue holds no letter ${id}.`)
  }
}

/**
 * Appends letters' original records to the topics they came from, so the step that failed meets
 * them again (a command goes back to ingest, a fact back to the projector); a letter that fails
 * again becomes a new letter. With no ids, every letter not replayed yet. Appended before being
 * marked: a crash in between replays a letter twice, which ingest and the projections absorb.
 */
export async function replayDeadLetters(
  log: Log,
  replays: DeadLetterReplays,
  now: Date,
  ids?: readonly string[],
): Promise<DeadLetter[]> {
  const letters = await listDeadLetters(log, replays)
  let chosen: ListedDeadLetter[]
  if (ids === undefined) chosen = letters.filter((l) => l.replayedAt === null)
  else {
    const byId = new Map(letters.map((l) => [l.id, l]))
    chosen = ids.map((id) => {
      const letter = byId.get(id)
      if (letter === undefined) throw new UnknownDeadLetterError(id)
      return letter
    })
  }
  const byTopic = new Map<string, ListedDeadLetter[]>()
  for (const letter of chosen) {
    const list = byTopic.get(letter.topic)
    if (list) list.push(letter)
    else byTopic.set(letter.topic, [letter])
  }
  for (const [topic, list] of byTopic) {
    await log.append(
      topic,
      list.map((l) => ({ key: l.key, value: l.value })),
    )
  }
  await replays.markReplayed(
    chosen.map((l) => l.id),
    now,
  )
  return chosen
}
