import { parseFloatText } from './numbers.ts'

/**
 * Dates as PostHog's flags service reads them for `is_date_exact/after/before`, in UTC (sluice
 * projects have no time zone). Results are epoch milliseconds; `now` is the evaluation's time.
 */

const relativePattern = /^-?(\d+)([hdwmy])$/
const hour = 3_600_000
const day = 24 * hour

/** `-7d`, `3h`, `2w`, `6m`, `1y` before `now` (the sign is ignored, as PostHog ignores it). */
function relativeDate(text: string, now: number): number | null {
  const match = relativePattern.exec(text)
  if (!match) return null
  const amount = Number(match[1])
  if (amount >= 10_000) return null
  switch (match[2]) {
    case 'h':
      return now - amount * hour
    case 'd':
      return now - amount * day
    case 'w':
      return now - amount * 7 * day
    case 'm':
      return monthsBefore(now, amount)
    default:
      return yearsBefore(now, amount)
  }
}

/** One month at a time, the day clamped to the month each step lands in (Mar 31 − 2m = Jan 28). */
function monthsBefore(now: number, months: number): number {
  const date = new Date(now)
  let year = date.getUTCFullYear()
  let month = date.getUTCMonth()
  let dayOfMonth = date.getUTCDate()
  for (let step = 0; step < months; step++) {
    month -= 1
    if (month < 0) {
      month = 11
      year -= 1
    }
    dayOfMonth = Math.min(dayOfMonth, daysIn(year, month))
  }
  return withDate(date, year, month, dayOfMonth)
}

function yearsBefore(now: number, years: number): number {
  const date = new Date(now)
  let year = date.getUTCFullYear()
  let dayOfMonth = date.getUTCDate()
  const month = date.getUTCMonth()
  for (let step = 0; step < years; step++) {
    year -= 1
    if (month === 1) dayOfMonth = Math.min(dayOfMonth, daysIn(year, month))
  }
  return withDate(date, year, month, dayOfMonth)
}

function withDate(time: Date, year: number, month: number, dayOfMonth: number): number {
  const result = new Date(time.getTime())
  result.setUTCFullYear(year, month, dayOfMonth)
  return result.getTime()
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate()
}

// RFC 3339: date, `T`/`t`/space, time with optional fraction, then `Z` or an offset (required).
const rfc3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/
const dateOnly = /^(\d{4})-(\d{2})-(\d{2})$/
// Naive date-times, read as UTC: seconds with optional fraction, or just hours and minutes.
const naive = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?$/

/** A filter's date text: relative to `now`, RFC 3339, a bare date (midnight) or a naive date-time. */
export function parseDateText(text: string, now: number): number | null {
  const relative = relativeDate(text, now)
  if (relative !== null) return relative
  const full = rfc3339.exec(text)
  if (full) {
    const [, y, mo, d, h, mi, s, fraction, zulu, sign, offsetHours, offsetMinutes] = full
    const utc = utcTime(y!, mo!, d!, h!, mi!, s!, fraction)
    if (utc === null) return null
    if (zulu) return utc
    const offset = (Number(offsetHours) * 60 + Number(offsetMinutes)) * 60_000
    return sign === '+' ? utc - offset : utc + offset
  }
  const date = dateOnly.exec(text)
  if (date) return utcTime(date[1]!, date[2]!, date[3]!, '0', '0', '0', undefined)
  const local = naive.exec(text)
  if (local) return utcTime(local[1]!, local[2]!, local[3]!, local[4]!, local[5]!, local[6] ?? '0', local[7])
  return null
}

/** Rejects out-of-range fields instead of letting Date roll them over (Feb 30 is no date). */
function utcTime(
  year: string,
  month: string,
  dayOfMonth: string,
  hours: string,
  minutes: string,
  seconds: string,
  fraction: string | undefined,
): number | null {
  const [y, mo, d, h, mi, s] = [year, month, dayOfMonth, hours, minutes, seconds].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo - 1) || h > 23 || mi > 59 || s > 60) return null
  const milliseconds = fraction ? Math.floor(Number(`0${fraction}`) * 1000) : 0
  const time = new Date(0)
  time.setUTCFullYear(y, mo - 1, d)
  time.setUTCHours(h, mi, s, milliseconds)
  return time.getTime()
}

/**
 * A property's value as a date: a number, or text that is a number, is epoch seconds (fractions
 * allowed); other text is read like a filter's date.
 */
export function dateOfProperty(value: unknown, now: number): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.round(value * 1000) : null
  if (typeof value !== 'string') return null
  const seconds = parseFloatText(value)
  if (seconds !== null) return Number.isFinite(seconds) ? Math.round(seconds * 1000) : null
  return parseDateText(value, now)
}
