import { Topics } from './topics.ts'

/** A dead letter keeps the original record whole, so `sluice dlq replay` can append it again. */
export interface DeadLetter {
  id: string
  step: string
  reason: string
  topic: string
  partition: number
  offset: number
  key: string | null
  value: string
  at: string
}

export interface DeadLetterSource {
  topic: string
  partition: number
  offset: number
  key: string | null
  value: string
}

/** The `dead_letter_queue` record for a message that `step` could not process. */
export function deadLetterRecord(source: DeadLetterSource, step: string, reason: string, at: Date) {
  const letter: DeadLetter = {
    id: `${source.topic}:${source.partition}:${source.offset}`,
    step,
    reason,
    topic: source.topic,
    partition: source.partition,
    offset: source.offset,
    key: source.key,
    value: source.value,
    at: at.toISOString(),
  }
  return { topic: Topics.deadLetters, key: letter.id, value: JSON.stringify(letter) }
}
