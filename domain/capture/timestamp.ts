/**
 * PostHog's clock-skew correction: a device's clock may be wrong, but
 * the gap between when it says an event happened and when it says it sent it is right, so the
 * event time is the server's receive time minus that gap.
 */
export interface TimestampInput {
  timestamp?: unknown
  offset?: unknown
  sentAt: string | null
  /** Server receive time, ISO 8601. */
  now: string
  ignoreSentAt?: boolean
}

export interface TimestampWarning {
  field: 'timestamp' | 'sent_at'
  value: string
  reason: string
}

const maxFutureMs = 23 * 60 * 60 * 1000
const firstMsOfYear0 = -62_167_219_200_000
const lastMsOfYear9999 = 253_402_300_799_999

export function correctedTimestamp(input: TimestampInput): {
  timestamp: string
  warnings: TimestampWarning[]
} {
  const now = parseTimestamp(input.now)
  if (now === null) throw new RangeError(`server time is not a timestamp: ${input.now}`)
  const warnings: TimestampWarning[] = []
  let sentAt: number | null = null
  if (input.sentAt !== null && !input.ignoreSentAt) {
    sentAt = parseSentAt(input.sentAt)
    if (sentAt === null)
      warnings.push({ field: 'sent_at', value: input.sentAt, reason: 'sent_at is not an RFC 3339 time' })
  }
  const ms = correctedEventTime(input.timestamp, input.offset, sentAt, now, warnings)
  return { timestamp: isoTimestamp(ms), warnings }
}

/**
 * correctedTimestamp's arithmetic, for a caller that has parsed the request's `sent_at` (null when
 * absent, invalid or ignored) and receive time once for all its events. Warnings go to `warnings`
 * when given.
 */
export function correctedEventTime(
  timestamp: unknown,
  offset: unknown,
  sentAt: number | null,
  now: number,
  warnings?: TimestampWarning[],
): number {
  let result = now
  // Only strings count, as in PostHog: a number here was never an SDK's event time.
  if (typeof timestamp === 'string') {
    const parsed = parseTimestamp(timestamp)
    if (parsed === null) {
      warnings?.push({ field: 'timestamp', value: timestamp, reason: 'timestamp is not a time' })
    } else {
      result = sentAt === null ? parsed : now + (parsed - sentAt)
    }
  }
  if (typeof offset === 'number' && Number.isSafeInteger(offset)) result = now - offset

  if (result - now > maxFutureMs) {
    warnings?.push({
      field: 'timestamp',
      value: String(timestamp ?? offset),
      reason: 'event timestamp is more than 23 hours in the future',
    })
    result = now
  }
  if (result < firstMsOfYear0 || result > lastMsOfYear9999) {
    warnings?.push({ field: 'timestamp', value: String(timestamp), reason: 'timestamp is out of bounds' })
    result = 0
  }
  return result
}

const twoDigits = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'))

/**
 * `new Date(ms).toISOString()` for the years 0–9999 that event times are clamped to, at a third
 * of its cost (it runs once per captured event). Days to civil date after H. Hinnant's
 * `civil_from_days`.
 */
export function isoTimestamp(time: number): string {
  // as Date does: a fractional time is cut toward zero
  const ms = Math.trunc(time)
  const days = Math.floor(ms / 86_400_000)
  let rest = ms - days * 86_400_000
  const hour = Math.floor(rest / 3_600_000)
  rest -= hour * 3_600_000
  const minute = Math.floor(rest / 60_000)
  rest -= minute * 60_000
  const second = Math.floor(rest / 1000)
  const milli = rest - second * 1000
  const shifted = days + 719_468 // days since 0000-03-01
  const era = Math.floor(shifted / 146_097)
  const dayOfEra = shifted - era * 146_097
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) /
      365,
  )
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100))
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153)
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
  const millis = milli < 10 ? `00${milli}` : milli < 100 ? `0${milli}` : `${milli}`
  return `${String(year).padStart(4, '0')}-${twoDigits[month]}-${twoDigits[day]}T${twoDigits[hour]}:${twoDigits[minute]}:${twoDigits[second]}.${millis}Z`
}

const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

/** `sent_at` must be RFC 3339 with a zone, as PostHog's capture requires; anything else is ignored. */
export function parseSentAt(value: string): number | null {
  return rfc3339.test(value.trim()) ? parseTimestamp(value) : null
}

const canonicalUtc = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const isoDateTime =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*([Zz]|UTC|[+-]\d{2}(?::?\d{2})?)?$/
const slashDate = /^(\d{4})\/(\d{1,2})\/(\d{1,2})$|^(\d{1,2})\/(\d{1,2})\/(\d{4})$/
const rfc2822 =
  /^(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|[A-Za-z]{1,3})?$/
const months = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
const namedZones: Record<string, number> = {
  z: 0,
  ut: 0,
  utc: 0,
  gmt: 0,
  est: -5,
  edt: -4,
  cst: -6,
  cdt: -5,
  mst: -7,
  mdt: -6,
  pst: -8,
  pdt: -7,
}

/**
 * The event time formats PostHog's capture accepts, in epoch ms: ISO 8601 / RFC 3339 (zone-less
 * means UTC; `+03`, `+0300` and `+03:00` zones), date-only, a space instead of `T`, `YYYY/MM/DD`
 * and `MM/DD/YYYY`, RFC 2822, and epoch numbers (seconds, milliseconds or nanoseconds by size).
 * Never the host's local zone and never a guess: anything else is null.
 */
export function parseTimestamp(value: string): number | null {
  const text = value.trim()
  // What SDKs send (and the server's own clock): the exact form Date.parse specifies; the
  // round trip refuses anything Date.parse would roll over, which then takes the strict path.
  if (canonicalUtc.test(text)) {
    const ms = Date.parse(text)
    if (!Number.isNaN(ms) && new Date(ms).toISOString() === text) return ms
  }
  if (/^\d{1,19}(\.\d+)?$/.test(text)) return epoch(Number(text))
  const iso = isoDateTime.exec(text)
  if (iso) {
    const [, year, month, day, hour = '0', minute = '0', second = '0', fraction = '', zone] = iso
    const ms = Number(`0.${fraction || '0'}`) * 1000
    return utc(+year!, +month!, +day!, +hour, +minute, +second, ms, zoneMinutes(zone))
  }
  const slash = slashDate.exec(text)
  if (slash) {
    const [, y1, m1, d1, m2, d2, y2] = slash
    return y1 !== undefined ? utc(+y1, +m1!, +d1!, 0, 0, 0, 0, 0) : utc(+y2!, +m2!, +d2!, 0, 0, 0, 0, 0)
  }
  const mail = rfc2822.exec(text)
  if (mail) {
    const [, day, monthName, year, hour, minute, second = '0', zone = 'GMT'] = mail
    const month = months.indexOf(monthName!.toLowerCase()) + 1
    const offset = /^[+-]\d{4}$/.test(zone) ? zoneMinutes(zone) : namedZones[zone.toLowerCase()]
    if (month === 0 || offset === undefined) return null
    const minutes = /^[+-]/.test(zone) ? offset : offset * 60
    return utc(+year!, month, +day!, +hour!, +minute!, +second, 0, minutes)
  }
  return null
}

function zoneMinutes(zone: string | undefined): number {
  if (zone === undefined || /^(z|utc)$/i.test(zone)) return 0
  const digits = zone.slice(1).replace(':', '')
  const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0')
  return zone.startsWith('-') ? -minutes : minutes
}

/** Epoch ms of a civil time, or null when a field is out of range (no silent rollover). */
function utc(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms: number,
  offsetMinutes: number,
): number | null {
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return null
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  if (date.getUTCDate() !== day) return null
  date.setUTCHours(hour, minute, Math.min(second, 59), Math.floor(ms))
  return date.getTime() - offsetMinutes * 60_000
}

function epoch(value: number): number {
  if (value < 1e11) return value * 1000
  if (value < 1e16) return value
  return Math.floor(value / 1e6)
}
