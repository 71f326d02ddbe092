import { Topics } from './topics.ts'

/**
 * Why a record was set aside, as a stable code (the free-text `reason` may quote the record, so
 * status reports and the admin API count letters by code).
 */
export const deadLetterCodes = [
  /** a request record capture wrote cannot be split into capture messages */
  'request_unreadable',
  /** the command is not JSON, or not a capture message */
  'command_unreadable',
  /** the command's token belongs to no project */
  'unknown_token',
  /** deciding the event threw: a defect, never a rule */
  'decide_failed',
  /** the database refused the data of the event (a value it cannot store, an integrity violation) */
  'database_refused',
  /** the event's transaction kept losing lock races with other ingest processes */
  'conflict_persisted',
  /** any other failure that came back every time the event alone was tried */
  'unexpected_error',
  /** a fact the projector cannot read */
  'fact_unreadable',
  /** ClickHouse refused a fact's row */
  'clickhouse_refused',
] as const
export type DeadLetterCode = (typeof deadLetterCodes)[number]

/** A dead letter keeps the original record whole, so `sluice dlq replay` can append it again. */
export interface DeadLetter {
  id: string
  step: string
  /** Absent on letters written before codes existed. */
  code?: DeadLetterCode
  reason: string
  topic: string
  partition: number
  offset: number
  key: string | null
  value: string
  /** The record's headers, when it had any (a request record keeps capture's decisions there). */
  headers?: Record<string, string>
  at: string
}

export interface DeadLetterSource {
  topic: string
  partition: number
  offset: number
  key: string | null
  value: string
  headers?: Record<string, string>
}

export interface SetAside {
  step: string
  code: DeadLetterCode
  reason: string
}

/** The `dead_letter_queue` record for a message that a step could not process. */
export function deadLetterRecord(source: DeadLetterSource, { step, code, reason }: SetAside, at: Date) {
  const letter: DeadLetter = {
    id: `${source.topic}:${source.partition}:${source.offset}`,
    step,
    code,
    reason,
    topic: source.topic,
    partition: source.partition,
    offset: source.offset,
    key: source.key,
    value: source.value,
    at: at.toISOString(),
  }
  if (source.headers !== undefined) letter.headers = source.headers
  return { topic: Topics.deadLetters, key: letter.id, value: JSON.stringify(letter) }
}
