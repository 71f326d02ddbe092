/** Capture's per-event normalisation, as PostHog's capture does it. */

/** Capture keeps this many characters of a distinct id and drops the rest, as PostHog's capture does. */
export const capturedDistinctIdLength = 200
export const maxTokenLength = 64

/**
 * The distinct id an event belongs to: strings as sent, anything else as its JSON text (object
 * keys sorted, as PostHog's serde_json prints them), NUL replaced by U+FFFD, cut to 200
 * characters. Null when there is none: missing, null, or empty.
 */
export function cleanDistinctId(raw: unknown): string | null {
  if (raw === undefined || raw === null) return null
  const text = (typeof raw === 'string' ? raw : canonicalJson(raw)).replaceAll('\u0000', '\uFFFD')
  if (text === '') return null
  if (text.length <= capturedDistinctIdLength) return text
  const characters = Array.from(text)
  return characters.length > capturedDistinctIdLength
    ? characters.slice(0, capturedDistinctIdLength).join('')
    : text
}

/** JSON text with object keys in sorted order; bounded input depth is the caller's business. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>
    const fields = Object.keys(record)
      .sort()
      .filter((key) => record[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`)
    return `{${fields.join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

export type TokenProblem = 'empty' | 'too_long' | 'not_ascii' | 'personal_api_key' | 'nul_byte'

/** Any UTF-16 code unit beyond ASCII, surrogates included. */
const nonAscii = /[\u0080-\uffff]/

/**
 * Why a project token cannot be one, or null if its shape is fine. Whether it names a project is
 * not decided here. A personal API key (`phx_…`) must never travel in a capture request.
 */
export function tokenProblem(token: string): TokenProblem | null {
  if (token === '') return 'empty'
  if (token.length > maxTokenLength) return 'too_long'
  if (nonAscii.test(token)) return 'not_ascii'
  if (token.startsWith('phx_')) return 'personal_api_key'
  if (token.includes('\u0000')) return 'nul_byte'
  return null
}

export type EventUuid = { kind: 'absent' } | { kind: 'valid'; uuid: string } | { kind: 'invalid' }

const hex32 = /^[0-9a-f]{32}$/

/**
 * An event's `uuid`: missing, null or `""` is absent (capture mints one); otherwise any form a
 * UUID parser accepts — hyphenated, 32 hex digits, `{…}`, `urn:uuid:…`, any case — is written
 * lower-case hyphenated; anything else is invalid.
 */
export function eventUuid(value: unknown): EventUuid {
  if (value === undefined || value === null || value === '') return { kind: 'absent' }
  if (typeof value !== 'string') return { kind: 'invalid' }
  let text = value.toLowerCase()
  if (text.startsWith('urn:uuid:')) text = text.slice('urn:uuid:'.length)
  else if (text.startsWith('{') && text.endsWith('}')) text = text.slice(1, -1)
  const hyphenated = text.length === 36 && [8, 13, 18, 23].every((i) => text[i] === '-')
  const digits = hyphenated ? text.replaceAll('-', '') : text
  if (!hex32.test(digits) || (!hyphenated && text.length !== 32)) return { kind: 'invalid' }
  const uuid = `${digits.slice(0, 8)}-${digits.slice(8, 12)}-${digits.slice(12, 16)}-${digits.slice(16, 20)}-${digits.slice(20)}`
  return { kind: 'valid', uuid }
}

/**
 * The uuids of the events a request sent without one, in order: the first is minted at capture, the
 * others count up from it in its last 48 bits (RFC 9562's counter in the random bits), so a request
 * record keeps one uuid however many it minted, and its split gives the same uuids each time.
 */
export function mintedUuids(first: string): () => string {
  const head = first.slice(0, 24)
  // in two halves of 24 bits: a number that fits 31 bits prints as hex several times faster
  const high = Number.parseInt(first.slice(24, 30), 16)
  const low = Number.parseInt(first.slice(30), 16)
  let n = 0
  return () => {
    if (n === 0) {
      n++
      return first
    }
    const counted = low + n++
    return `${head}${hex6((high + Math.floor(counted / half)) % half)}${hex6(counted % half)}`
  }
}

const half = 2 ** 24

function hex6(value: number): string {
  return value.toString(16).padStart(6, '0')
}
