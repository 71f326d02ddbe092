import type { RawEvent } from '../../schema/command.ts'
import { type Compression, compressionOf, decodePayloadText, isStrictBase64 } from './decode-payload.ts'
import { CaptureError } from './errors.ts'
import { parseCaptureJson } from './parse-json.ts'

export interface CaptureHttpRequest {
  /** The route path, e.g. `/e/`, `/batch`, `/i/v0/e/`. */
  path: string
  method: 'GET' | 'POST'
  /** First value of each query parameter. */
  query: Record<string, string | undefined>
  headers: { contentType?: string; contentEncoding?: string }
  body: Buffer
}

export interface DecodedCapture {
  /** The payload's JSON text, every wrapper (form, base64, gzip, lz-string) taken off. */
  payload: string
  /** The route, `/engage` people updates being events of their own shape. */
  path: string
  events: RawEvent[]
  /** The batch's `api_key`/`token`: it wins over any token inside the events. */
  batchToken: string | null
  /** The client's send time: the batch's `sent_at`, else the `_` query parameter (ms). */
  sentAt: string | null
  historicalMigration: boolean
  /** Events were sent but all were dropped on purpose (`$performance_event`). */
  allDiscarded: boolean
  /** A `token`/`api_key` query or form field (PostHog's Django capture read them first). */
  requestToken?: string | null
}

const mib = 1024 * 1024
const formStarts = ['data=', 'ver=', '_=', 'ip=', 'compression=']

/** Raw body limit per path, as PostHog's capture sets them. */
export function maxBodyBytes(path: string): number {
  return normalisedPath(path) === '/batch' ? 20 * mib : 2 * mib
}

/**
 * Decodes a capture request the way PostHog's capture does: the
 * payload from `data=` or the body, form fields, then whatever encodings wrap it (see
 * decodePayloadText), then the JSON shapes — array, batch, single event, or an `/engage` people
 * update. Throws a CaptureError for anything that cannot be decoded.
 */
export function decodeCaptureRequest(request: CaptureHttpRequest): DecodedCapture {
  const path = normalisedPath(request.path)
  const raw = request.query.data ? Buffer.from(restorePlus(request.query.data), 'utf8') : request.body
  if (raw.length === 0)
    throw new CaptureError('no_data', 'The request has no data: send a body or a data= parameter.')

  const form = formOf(raw, request.headers.contentType)
  const hint: Compression =
    compressionOf(request.query.compression) ??
    compressionOf(form?.compression) ??
    compressionOf(request.headers.contentEncoding)
  const text = decodePayloadText(form ? Buffer.from(form.data, 'utf8') : raw, hint)
  const decoded = decodePayload(text, path)
  return {
    ...decoded,
    sentAt: decoded.sentAt ?? sentAtFromQuery(request.query._ ?? request.query.sent_at),
    requestToken: nonEmpty(request.query.token) ?? nonEmpty(request.query.api_key) ?? form?.token ?? null,
  }
}

/**
 * The events of a payload's JSON text, in any of its shapes — what capture reads from a request,
 * and what splitting a request record reads again from the log.
 */
export function decodePayload(text: string, path: string): Omit<DecodedCapture, 'requestToken'> {
  const decoded = shapeOf(parseCaptureJson(text), normalisedPath(path))
  const events = decoded.events.filter((event) => event.event !== '$performance_event')
  if (decoded.events.length === 0) throw new CaptureError('no_events', 'The request holds no event.')
  return { ...decoded, payload: text, path: normalisedPath(path), events, allDiscarded: events.length === 0 }
}

export interface Form {
  data: string
  compression: string | undefined
  token: string | null
}

/** A form body (by its content type or by how it starts), or null when the body is the payload. */
export function formOf(payload: Buffer, contentType: string | undefined): Form | null {
  const declared = (contentType ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')
  // nearly every request is JSON, which its first byte tells
  if (!declared && (payload[0] === 0x7b || payload[0] === 0x5b)) return null
  const start = payload.subarray(0, 32).toString('latin1')
  // Undeclared, only the fields posthog-js puts first count; declared, any `field=` start does.
  const looksLikeForm =
    formStarts.some((prefix) => start.startsWith(prefix)) || (declared && /^[\w$.-]+=/.test(start))
  if (!looksLikeForm) {
    if (declared)
      throw new CaptureError('invalid_payload', 'Expected form data (data=…) in the request body.')
    return null
  }
  const fields = new URLSearchParams(payload.toString('utf8'))
  const data = fields.get('data')
  if (data === null || data === '') throw new CaptureError('no_data', 'The form has no data field.')
  return {
    data: restorePlus(data),
    compression: fields.get('compression') ?? undefined,
    token: nonEmpty(fields.get('api_key')) ?? nonEmpty(fields.get('token')),
  }
}

type Shape = Omit<DecodedCapture, 'allDiscarded' | 'requestToken' | 'payload' | 'path'>

function shapeOf(json: unknown, path: string): Shape {
  const plain = { batchToken: null, sentAt: null, historicalMigration: false }
  if (Array.isArray(json)) return { ...plain, events: json.map(asEvent) }
  if (!isObject(json))
    throw new CaptureError('invalid_payload', 'The payload must be an event, an array of events or a batch.')
  if (Array.isArray(json.batch)) {
    const token = json.api_key ?? json.token
    return {
      events: json.batch.map(asEvent),
      batchToken: typeof token === 'string' ? token : null,
      sentAt: typeof json.sent_at === 'string' ? json.sent_at : null,
      historicalMigration: json.historical_migration === true,
    }
  }
  if (path === '/engage' && (json.event === undefined || json.event === null || json.event === ''))
    return { ...plain, events: [engageAsIdentify(json)] }
  return { ...plain, events: [asEvent(json)] }
}

function asEvent(value: unknown): RawEvent {
  if (!isObject(value)) throw new CaptureError('invalid_payload', 'Every event must be a JSON object.')
  return value as RawEvent
}

/**
 * The legacy people API (`people.set` of old posthog-js): `{$token, $distinct_id, $set…}` with no
 * event name is an `$identify` carrying the updates, as PostHog's capture made it. `$unset` moves
 * into properties, the only place an event carries it.
 */
function engageAsIdentify(engage: Record<string, unknown>): RawEvent {
  const { $unset, ...rest } = engage
  const event: RawEvent = { ...rest, event: '$identify' }
  if ($unset !== undefined)
    event.properties = { ...(isObject(event.properties) ? event.properties : {}), $unset }
  return event
}

/** Base64 `+` signs arrive as spaces when the client did not escape them in a URL or form. */
export function restorePlus(data: string): string {
  if (!data.includes(' ')) return data
  const restored = data.replaceAll(' ', '+')
  return isStrictBase64(restored.trim()) ? restored : data
}

function sentAtFromQuery(value: string | undefined): string | null {
  if (value === undefined || !/^\d{1,16}$/.test(value)) return null
  const ms = Number(value)
  // PostHog takes `_` as milliseconds only if that lands after 2020 (seconds would not).
  return ms >= Date.UTC(2021, 0, 1) && ms <= 8.64e15 ? new Date(ms).toISOString() : null
}

function nonEmpty(value: string | null | undefined): string | null {
  return value === undefined || value === null || value === '' ? null : value
}

function normalisedPath(path: string): string {
  const query = path.indexOf('?')
  const withoutQuery = query === -1 ? path : path.slice(0, query)
  return withoutQuery.length > 1 && withoutQuery.endsWith('/') ? withoutQuery.slice(0, -1) : withoutQuery
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
