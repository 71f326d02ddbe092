import type { CaptureCommand } from '../../schema/command.ts'
import { correctedTimestamp, type TimestampWarning } from '../capture/timestamp.ts'

/** A command rebuilt into the event ingestion works on. */
export interface PipelineEvent {
  uuid: string
  event: string
  distinctId: string
  token: string
  /** Top-level `$set`/`$set_once` are merged into `properties.$set`/`$set_once` (top-level wins). */
  properties: Record<string, unknown>
  /** Skew-corrected event time, ISO 8601 UTC with milliseconds. */
  timestamp: string
  ip: string | null
  /** What capture decided about client IPs (the command's `anonymize_ips`); absent when it could not. */
  anonymizeIps?: boolean
  now: string
  sentAt: string | null
  historicalMigration: boolean
  /** What was wrong with the event's time as sent; each is reported as an ingestion warning. */
  timestampWarnings: readonly TimestampWarning[]
}

export const maxEventNameLength = 200

/** Rebuilds the event as PostHog's ingestion does: `{...JSON.parse(data), ...outer fields}`. Never throws. */
export function parseCommand(
  command: CaptureCommand,
): { ok: true; event: PipelineEvent } | { ok: false; reason: string } {
  let data: unknown
  try {
    data = JSON.parse(command.data)
  } catch (error) {
    return { ok: false, reason: `data is not JSON: ${(error as Error).message}` }
  }
  // Postgres text and jsonb refuse NUL: left in, one event would stall its partition forever.
  if (command.data.includes('\\u0000')) data = withoutNul(data)
  if (!isObject(data)) return { ok: false, reason: 'data is not a JSON object' }
  const rawName = command.event ?? data.event
  if (rawName === undefined || rawName === null || rawName === '')
    return { ok: false, reason: 'the event has no name' }
  const event = (typeof rawName === 'string' ? rawName : JSON.stringify(rawName))
    .slice(0, maxEventNameLength)
    .replaceAll('\0', replacement)

  // freshly parsed, so ours to extend without a copy
  const properties: Record<string, unknown> = isObject(data.properties) ? data.properties : {}
  for (const key of ['$set', '$set_once'] as const) {
    const topLevel = data[key]
    if (isObject(topLevel))
      properties[key] = { ...(isObject(properties[key]) ? properties[key] : {}), ...topLevel }
  }

  let timestamp = command.timestamp
  let timestampWarnings: readonly TimestampWarning[] = command.timestamp_warnings ?? noWarnings
  // commands of releases whose capture did not correct the time yet
  if (timestamp === undefined) {
    try {
      const corrected = correctedTimestamp({
        timestamp: data.timestamp,
        offset: data.offset,
        sentAt: command.sent_at ?? null,
        now: command.now,
        ignoreSentAt: properties.$ignore_sent_at === true,
      })
      timestamp = corrected.timestamp
      timestampWarnings = corrected.warnings
    } catch (error) {
      return { ok: false, reason: `the event time cannot be computed: ${(error as Error).message}` }
    }
  }

  return {
    ok: true,
    event: {
      uuid: command.uuid,
      event,
      distinctId: command.distinct_id.replaceAll('\0', replacement),
      token: command.token,
      properties,
      timestamp,
      ip: command.ip,
      anonymizeIps: command.anonymize_ips,
      now: command.now,
      sentAt: command.sent_at ?? null,
      historicalMigration: command.historical_migration === true,
      timestampWarnings,
    },
  }
}

const noWarnings: readonly TimestampWarning[] = []

const replacement = '\uFFFD'

/** A copy with every NUL in strings and keys replaced by U+FFFD, as PostHog's ingestion does. */
export function withoutNul(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll('\0', replacement)
  if (Array.isArray(value)) return value.map(withoutNul)
  if (!isObject(value)) return value
  const copy: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(value)) {
    // defineProperty, so a `__proto__` key stays a plain key
    Object.defineProperty(copy, key.replaceAll('\0', replacement), {
      value: withoutNul(item),
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return copy
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
