import { cleanDistinctId, eventUuid, tokenProblem } from '../../domain/capture/normalise.ts'
import {
  correctedEventTime,
  isoTimestamp,
  parseSentAt,
  type TimestampWarning,
} from '../../domain/capture/timestamp.ts'
import type { CaptureCommand, RawEvent } from '../../schema/command.ts'
import type { DecodedCapture } from './decode-request.ts'
import { CaptureError } from './errors.ts'

export interface CaptureContext {
  /** When the request arrived. */
  now: Date
  /** The client's address (X-Forwarded-For or the socket). */
  ip: string | null
  /**
   * The project's `anonymize_ips` as capture found it; `undefined` when the project could not be
   * looked up (ingest decides then). When true no client IP enters the commands.
   */
  anonymizeIps?: boolean
  /** Mints the uuid of an event sent without one (UUIDv7). */
  newUuid: () => string
  /** The capture server's own origin, which PostHog's capture put in every message as `site_url`. */
  siteUrl?: string
}

export interface CaptureCommands {
  token: string
  commands: CaptureCommand[]
}

/** Kafka's default message limit in PostHog's capture: one event's message above it is refused. */
export const maxCommandBytes = 1_000_000

/**
 * Turns decoded events into commands for the log — PostHog's capture message: the token checked,
 * the distinct id cleaned, the uuid validated or minted, the event time skew-corrected, the client
 * IP kept or left out as the project asks, and `data` holding the event as PostHog's capture
 * re-serialises it. One bad event refuses the whole request, as in PostHog: SDKs retry requests,
 * not events.
 */
export function buildCaptureCommands(decoded: DecodedCapture, ctx: CaptureContext): CaptureCommands {
  const token = captureToken(decoded)
  const anonymize = ctx.anonymizeIps === true
  const nowMs = ctx.now.getTime()
  const now = ctx.now.toISOString()
  const sentAtMs = decoded.sentAt === null ? null : parseSentAt(decoded.sentAt)
  const sentAt = sentAtMs === null ? null : new Date(sentAtMs).toISOString()
  const unreadableSentAt: TimestampWarning | null =
    decoded.sentAt !== null && sentAtMs === null
      ? { field: 'sent_at', value: decoded.sentAt, reason: 'sent_at is not an RFC 3339 time' }
      : null
  const commands = decoded.events.map((event) => {
    const { name, properties, distinctId, uuid: sent } = checkedEvent(event)
    const uuid = sent ?? ctx.newUuid()
    const ignoreSentAt = properties.$ignore_sent_at === true
    const timestampWarnings: TimestampWarning[] = unreadableSentAt && !ignoreSentAt ? [unreadableSentAt] : []
    const eventTime = correctedEventTime(
      event.timestamp,
      event.offset,
      ignoreSentAt ? null : sentAtMs,
      nowMs,
      timestampWarnings,
    )

    const command: CaptureCommand = {
      uuid,
      distinct_id: distinctId,
      ip: anonymize ? null : ctx.ip,
      data: serialise(dataOf(event, name, anonymize ? withoutKey(properties, '$ip') : properties, uuid)),
      now,
      token,
      event: name,
      timestamp: isoTimestamp(eventTime),
    }
    if (sentAt !== null) command.sent_at = sentAt
    if (ctx.siteUrl !== undefined) command.site_url = ctx.siteUrl
    if (decoded.historicalMigration) command.historical_migration = true
    if (ctx.anonymizeIps !== undefined) command.anonymize_ips = ctx.anonymizeIps
    if (timestampWarnings.length > 0) command.timestamp_warnings = timestampWarnings
    checkSize(command)
    return command
  })
  return { token, commands }
}

/**
 * Capture's checks of every event, without building anything: what refuses the request is found
 * while the client waits (the SDK drops a request on a 4xx, so it must be about the request
 * itself), and the rest is left for later. Returns, for each event, whether it came without a
 * uuid — buildCaptureCommands mints one for each of those, in this order.
 */
export function checkCaptureEvents(decoded: DecodedCapture): boolean[] {
  return decoded.events.map((event) => checkedEvent(event).uuid === null)
}

/** An event's name, properties, cleaned distinct id and uuid (null when absent), or the refusal. */
function checkedEvent(event: RawEvent) {
  const name = event.event
  if (typeof name !== 'string' || name === '')
    throw new CaptureError('missing_event_name', 'An event was submitted without an event name.')
  const properties = objectField(event, 'properties') ?? {}
  objectField(event, '$set')
  objectField(event, '$set_once')
  const distinctId = cleanDistinctId(event.distinct_id ?? event.$distinct_id ?? properties.distinct_id)
  if (distinctId === null)
    throw new CaptureError('missing_distinct_id', 'An event was submitted without a distinct_id.')
  return { name, properties, distinctId, uuid: sentUuid(event) }
}

/** The raw event re-serialised: the fields PostHog's capture keeps, other top-level keys dropped. */
function dataOf(event: RawEvent, name: string, properties: Record<string, unknown>, uuid: string) {
  const data: Record<string, unknown> = { event: name, properties, uuid }
  if (event.timestamp !== undefined && event.timestamp !== null) data.timestamp = event.timestamp
  if (event.offset !== undefined && event.offset !== null) data.offset = event.offset
  const set = objectField(event, '$set')
  if (set !== null) data.$set = set
  const setOnce = objectField(event, '$set_once')
  if (setOnce !== null) data.$set_once = setOnce
  const eventToken = eventLevelToken(event)
  if (eventToken !== null) data.token = eventToken
  const distinctId = event.distinct_id ?? event.$distinct_id
  if (distinctId !== undefined && distinctId !== null) data.distinct_id = distinctId
  return data
}

/** An object-valued field: absent or null is null, any other non-object refuses the request. */
function objectField(event: RawEvent, field: 'properties' | '$set' | '$set_once') {
  const value: unknown = event[field]
  if (value === undefined || value === null) return null
  if (typeof value !== 'object' || Array.isArray(value))
    throw new CaptureError('invalid_payload', `The event field ${field} must be an object.`)
  return value as Record<string, unknown>
}

function withoutKey(properties: Record<string, unknown>, key: string): Record<string, unknown> {
  if (!Object.hasOwn(properties, key)) return properties
  const copy = { ...properties }
  delete copy[key]
  return copy
}

/** The request's project token, where the SDKs put it; refuses a missing, malformed or ambiguous one. */
export function captureToken(decoded: DecodedCapture): string {
  let token = decoded.batchToken ?? decoded.requestToken ?? null
  if (token === null) {
    const tokens = new Set<string>()
    for (const event of decoded.events) {
      const found = eventLevelToken(event) ?? propertiesToken(event)
      if (found !== null) tokens.add(found)
    }
    if (tokens.size > 1)
      throw new CaptureError('multiple_tokens', 'The events of one request carry different project tokens.')
    token = [...tokens][0] ?? null
  }
  if (token === null || token === '')
    throw new CaptureError('missing_token', 'The request has no project token (api_key or token).')
  const problem = tokenProblem(token)
  if (problem !== null)
    throw new CaptureError('invalid_token', `The project token is malformed (${problem}).`)
  return token
}

function eventLevelToken(event: RawEvent): string | null {
  for (const value of [event.token, event.$token, event.api_key]) if (typeof value === 'string') return value
  return null
}

function propertiesToken(event: RawEvent): string | null {
  const properties: unknown = event.properties
  if (typeof properties !== 'object' || properties === null) return null
  const token = (properties as Record<string, unknown>).token
  return typeof token === 'string' ? token : null
}

/** The uuid the event was sent with, null when it came without one; a malformed one refuses it. */
function sentUuid(event: RawEvent): string | null {
  const parsed = eventUuid(event.uuid)
  if (parsed.kind === 'absent') return null
  if (parsed.kind === 'valid') return parsed.uuid
  throw new CaptureError(
    'invalid_uuid',
    `The event uuid ${JSON.stringify(event.uuid).slice(0, 60)} is not a UUID.`,
  )
}

function checkSize(command: CaptureCommand): void {
  // A UTF-16 code unit is at most 3 bytes of UTF-8: most events are far enough below the limit
  // that their bytes need not be counted.
  if (6 * (command.data.length + (command.event?.length ?? 0)) + 4096 <= maxCommandBytes) return
  const dataBytes = Buffer.byteLength(command.data)
  // Embedding `data` as a JSON string at most doubles it (quotes and backslashes gain a backslash),
  // so the whole message is measured only when it could be near the limit.
  const bound = 2 * dataBytes + 2 * Buffer.byteLength(command.event ?? '') + 4096
  const bytes =
    dataBytes > maxCommandBytes || bound <= maxCommandBytes
      ? dataBytes
      : Buffer.byteLength(JSON.stringify(command))
  if (bytes > maxCommandBytes) {
    throw new CaptureError(
      'payload_too_large',
      `Event ${command.uuid} is ${bytes} bytes in the log, more than ${maxCommandBytes}.`,
    )
  }
}

function serialise(value: unknown): string {
  try {
    return JSON.stringify(value)
  } catch (error) {
    throw new CaptureError('invalid_payload', `The event cannot be serialised: ${(error as Error).message}`)
  }
}
