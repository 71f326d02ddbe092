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

/** What a letter is about, read from the record it keeps: a command, or a fact row. */
export interface DeadLetterSubject {
  /** The project's token (commands) — its project is looked up — or its id (fact rows). */
  token: string | null
  teamId: number | null
  eventUuid: string | null
  event: string | null
  distinctId: string | null
}

export function deadLetterSubject(letter: DeadLetter): DeadLetterSubject {
  let record: Record<string, unknown> = {}
  try {
    const parsed: unknown = JSON.parse(letter.value)
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      record = parsed as Record<string, unknown>
  } catch {
    // an unreadable record is about nothing that can be named
  }
  const text = (value: unknown) => (typeof value === 'string' ? value : null)
  return {
    token: text(record.token),
    teamId: typeof record.team_id === 'number' ? record.team_id : null,
    eventUuid: text(record.uuid),
    event: text(record.event),
    distinctId: text(record.distinct_id),
  }
}

/** A project's letters: those whose command carries one of its tokens, or whose fact row its id. */
export async function lettersOfProject(
  letters: readonly ListedDeadLetter[],
  projectId: number,
  projectOfToken: (token: string) => Promise<number | null>,
): Promise<(ListedDeadLetter & { subject: DeadLetterSubject })[]> {
  const mine: (ListedDeadLetter & { subject: DeadLetterSubject })[] = []
  for (const letter of letters) {
    const subject = deadLetterSubject(letter)
    const owner = subject.teamId ?? (subject.token === null ? null : await projectOfToken(subject.token))
    if (owner === projectId) mine.push({ ...letter, subject })
  }
  return mine
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
      list.map((l) =>
        l.headers === undefined
          ? { key: l.key, value: l.value }
          : { key: l.key, value: l.value, headers: l.headers },
      ),
    )
  }
  await replays.markReplayed(
    chosen.map((l) => l.id),
    now,
  )
  return chosen
}
