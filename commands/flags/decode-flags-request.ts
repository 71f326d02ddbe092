import { compressionOf, decodePayloadText } from '../capture/decode-payload.ts'
import { formOf, restorePlus } from '../capture/decode-request.ts'
import { CaptureError } from '../capture/errors.ts'
import { parseCaptureJson } from '../capture/parse-json.ts'
import { FlagsRequestError } from './errors.ts'

export interface FlagsHttpRequest {
  /** First value of each query parameter. */
  query: Record<string, string | undefined>
  headers: { contentType?: string; contentEncoding?: string }
  body: Buffer
}

/** A /flags or /decide request body as the SDKs send it (POSTHOG_BEHAVIOUR §8.1), read. */
export interface FlagsRequest {
  token: string
  distinctId: string
  /** Sent on the first request after identify: continuity flags keep the bucket of this id. */
  anonDistinctId: string | null
  /** Group type → group key, as sent (keys may be numbers). */
  groups: Record<string, unknown>
  personProperties: Record<string, unknown>
  /** Group type → properties. */
  groupProperties: Record<string, Record<string, unknown>>
  /** Only these flags (posthog-node's `flag_keys_to_evaluate`, posthog-js's `flag_keys`). */
  flagKeys: string[] | null
  /** The SDK wants only the config, no flags. */
  disableFlags: boolean
}

/** PostHog's flags service cuts longer distinct ids to 200 characters (code points). */
const maxDistinctIdLength = 200

/**
 * Decodes a flags request whatever way the SDK wrapped it — JSON, gzip recognised by its bytes,
 * form `data=` with base64 (posthog-js without compression), `?compression=` hints — with
 * capture's decoders, then reads the fields PostHog's flags service reads.
 */
export function decodeFlagsRequest(request: FlagsHttpRequest): FlagsRequest {
  let json: unknown
  try {
    json = parseBody(request)
  } catch (error) {
    if (error instanceof CaptureError)
      throw new FlagsRequestError(
        error.code === 'payload_too_large' ? 'payload_too_large' : 'invalid_payload',
        error.detail,
      )
    throw error
  }
  if (!isObject(json)) throw invalid('The request body must be a JSON object.')
  return readFields(json)
}

function parseBody(request: FlagsHttpRequest): unknown {
  const raw = request.query.data ? Buffer.from(restorePlus(request.query.data), 'utf8') : request.body
  if (raw.length === 0) throw invalid('The request has no body: send the flags request as JSON.')
  // A JSON body (posthog-node's, the usual case) is read as JSON whatever its label (curl labels
  // everything a form); invalid UTF-8 in it becomes U+FFFD, as PostHog's flags service reads it.
  // Anything else is unwrapped as capture does.
  const text = startsLikeJsonObject(raw) ? raw.toString('utf8') : unwrapped(raw, request)
  try {
    return parseCaptureJson(text)
  } catch (error) {
    // Some SDKs send NaN and Infinity unquoted; PostHog reads them as null.
    const lenient = withoutNonFiniteLiterals(text)
    if (lenient === text) throw error
    return parseCaptureJson(lenient)
  }
}

function startsLikeJsonObject(raw: Buffer): boolean {
  for (const byte of raw) {
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue
    return byte === 0x7b
  }
  return false
}

/** gzip by its bytes, form `data=`, base64, `?compression=` hints: capture's decoding. */
function unwrapped(raw: Buffer, request: FlagsHttpRequest): string {
  const form = formOf(raw, request.headers.contentType)
  const hint =
    compressionOf(request.query.compression) ??
    compressionOf(form?.compression) ??
    compressionOf(request.headers.contentEncoding)
  return decodePayloadText(form ? Buffer.from(form.data, 'utf8') : raw, hint)
}

function readFields(body: Record<string, unknown>): FlagsRequest {
  const token = first(body, 'token', '$token', 'api_key')
  if (token === undefined || token === null || token === '')
    throw new FlagsRequestError('missing_token', 'The request has no project token (token or api_key).')
  if (typeof token !== 'string') throw invalid('The project token must be a string.')
  return {
    token,
    distinctId: distinctIdOf(first(body, 'distinct_id', '$distinct_id')),
    anonDistinctId: optionalString(first(body, '$anon_distinct_id', 'anon_distinct_id'), '$anon_distinct_id'),
    groups: objectOf(first(body, 'groups', '$groups'), 'groups'),
    personProperties: objectOf(first(body, 'person_properties', '$properties'), 'person_properties'),
    groupProperties: groupPropertiesOf(first(body, 'group_properties', '$group_properties')),
    flagKeys: flagKeysOf(first(body, 'flag_keys', 'flag_keys_to_evaluate')),
    disableFlags: body.disable_flags === true,
  }
}

function distinctIdOf(value: unknown): string {
  if (value === undefined || value === null)
    throw new FlagsRequestError('missing_distinct_id', 'The request has no distinct_id.')
  let id: string
  if (typeof value === 'string') id = value
  else if (typeof value === 'number' && Number.isFinite(value)) id = String(value)
  else throw invalid('distinct_id must be a string or a number.')
  // No more code points than UTF-16 units: only a long id needs counting.
  if (id.length <= maxDistinctIdLength) return id
  return [...id].slice(0, maxDistinctIdLength).join('')
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'string') throw invalid(`${field} must be a string.`)
  return value
}

function objectOf(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined || value === null) return {}
  if (!isObject(value)) throw invalid(`${field} must be an object.`)
  return value
}

function groupPropertiesOf(value: unknown): Record<string, Record<string, unknown>> {
  const groups = objectOf(value, 'group_properties')
  for (const [type, properties] of Object.entries(groups))
    if (!isObject(properties)) throw invalid(`group_properties.${type} must be an object.`)
  return groups as Record<string, Record<string, unknown>>
}

function flagKeysOf(value: unknown): string[] | null {
  if (value === undefined || value === null) return null
  if (!Array.isArray(value) || !value.every((key) => typeof key === 'string'))
    throw invalid('flag_keys must be a list of flag keys.')
  return value
}

function first(body: Record<string, unknown>, ...fields: string[]): unknown {
  for (const field of fields) if (body[field] !== undefined) return body[field]
  return undefined
}

/** Replaces `NaN`, `Infinity` and `-Infinity` outside strings by `null`. */
export function withoutNonFiniteLiterals(text: string): string {
  let result = ''
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!
    if (inString) {
      result += char
      if (char === '\\') result += text[++i] ?? ''
      else if (char === '"') inString = false
      continue
    }
    if (char === '"') inString = true
    const literal = ['NaN', 'Infinity', '-Infinity'].find((word) => text.startsWith(word, i))
    if (literal) {
      result += 'null'
      i += literal.length - 1
    } else result += char
  }
  return result
}

function invalid(detail: string): FlagsRequestError {
  return new FlagsRequestError('invalid_payload', detail)
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
