import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  correctedTimestamp,
  isoTimestamp,
  parseSentAt,
  parseTimestamp,
  type TimestampInput,
} from './timestamp.ts'

const now = '2026-11-25T12:00:00.000Z'

describe('clock-skew correction, as PostHog does it', () => {
  const cases: [string, Partial<TimestampInput>, string][] = [
    ['no timestamp → now', {}, now],
    [
      'timestamp without sent_at → as sent',
      { timestamp: '2026-11-25T11:00:00.000Z' },
      '2026-11-25T11:00:00.000Z',
    ],
    [
      'device clock 1 h fast → now minus the gap to sent_at',
      { timestamp: '2026-11-25T12:59:50.000Z', sentAt: '2026-11-25T13:00:00.000Z' },
      '2026-11-25T11:59:50.000Z',
    ],
    [
      'device clock 3 days slow → corrected the same way',
      { timestamp: '2026-11-22T11:58:00.000Z', sentAt: '2026-11-22T12:00:00.000Z' },
      '2026-11-25T11:58:00.000Z',
    ],
    [
      'sent_at in another zone',
      { timestamp: '2026-11-25T14:59:00+03:00', sentAt: '2026-11-25T15:00:00+03:00' },
      '2026-11-25T11:59:00.000Z',
    ],
    [
      '$ignore_sent_at → the timestamp as sent',
      { timestamp: '2026-11-25T10:00:00.000Z', sentAt: '2026-11-25T13:00:00.000Z', ignoreSentAt: true },
      '2026-11-25T10:00:00.000Z',
    ],
    [
      'unparseable sent_at → ignored',
      { timestamp: '2026-11-25T10:00:00Z', sentAt: 'later' },
      '2026-11-25T10:00:00.000Z',
    ],
    [
      'sent_at without zone is not RFC 3339 → ignored',
      { timestamp: '2026-11-25T10:00:00Z', sentAt: '2026-11-25 13:00' },
      '2026-11-25T10:00:00.000Z',
    ],
    ['offset → now minus offset', { offset: 5000 }, '2026-11-25T11:59:55.000Z'],
    [
      'offset wins over timestamp and sent_at',
      { timestamp: '2020-01-01T00:00:00Z', sentAt: now, offset: 5000 },
      '2026-11-25T11:59:55.000Z',
    ],
    ['offset 0 → now', { timestamp: '2020-01-01T00:00:00Z', offset: 0 }, now],
    [
      'non-integer offset → ignored',
      { timestamp: '2026-11-25T10:00:00Z', offset: 1.5 },
      '2026-11-25T10:00:00.000Z',
    ],
    ['offset as a string → ignored', { offset: '5000' }, now],
    ['22 h ahead → kept', { timestamp: '2026-11-26T10:00:00Z' }, '2026-11-26T10:00:00.000Z'],
    ['more than 23 h ahead → now', { timestamp: '2026-11-26T11:00:00.001Z' }, now],
    ['negative offset far ahead → now', { offset: -90_000_000 }, now],
    [
      'far ahead after skew correction → now',
      { timestamp: '2026-11-28T00:00:00Z', sentAt: '2026-11-25T00:00:00Z' },
      now,
    ],
    ['unparseable timestamp → now', { timestamp: 'yesterday-ish' }, now],
    ['numeric timestamp (not a string) → now', { timestamp: 1764072000000 }, now],
    ['impossible date → now', { timestamp: '2026-02-30T00:00:00Z' }, now],
    ['year 1 → kept', { timestamp: '0001-01-01T12:00:00Z' }, '0001-01-01T12:00:00.000Z'],
    ['before year 0 after correction → epoch', { offset: 64_000_000_000_000 }, '1970-01-01T00:00:00.000Z'],
  ]

  it.each(cases)('%s', (_name, input, expected) => {
    expect(correctedTimestamp({ sentAt: null, now, ...input }).timestamp).toBe(expected)
  })

  it('warns about what it ignored or clamped', () => {
    const ignored = correctedTimestamp({ timestamp: 'nope', sentAt: 'never', now })
    expect(ignored.warnings.map((w) => w.field).sort()).toEqual(['sent_at', 'timestamp'])
    const future = correctedTimestamp({ timestamp: '2027-01-01T00:00:00Z', sentAt: null, now })
    expect(future.warnings).toEqual([expect.objectContaining({ reason: expect.stringContaining('future') })])
    expect(correctedTimestamp({ timestamp: '2026-11-25T10:00:00Z', sentAt: null, now }).warnings).toEqual([])
  })
})

describe('event time formats', () => {
  it.each([
    ['2026-11-25T10:30:00Z', '2026-11-25T10:30:00.000Z'],
    ['2026-11-25T10:30:00.123456Z', '2026-11-25T10:30:00.123Z'],
    ['2026-11-25T10:30:00+00:00', '2026-11-25T10:30:00.000Z'],
    ['2026-11-25T13:30:00+03', '2026-11-25T10:30:00.000Z'],
    ['2026-11-25T13:30:00+0300', '2026-11-25T10:30:00.000Z'],
    ['2026-11-25T05:00:00-05:30', '2026-11-25T10:30:00.000Z'],
    ['2026-11-25T10:30:00', '2026-11-25T10:30:00.000Z'],
    ['2026-11-25 10:30:00', '2026-11-25T10:30:00.000Z'],
    ['2026-11-25 10:30', '2026-11-25T10:30:00.000Z'],
    ['2026-11-25', '2026-11-25T00:00:00.000Z'],
    ['2026/11/25', '2026-11-25T00:00:00.000Z'],
    ['11/25/2026', '2026-11-25T00:00:00.000Z'],
    ['Wed, 25 Nov 2026 10:30:00 GMT', '2026-11-25T10:30:00.000Z'],
    ['Wed, 25 Nov 2026 12:30:00 +0200', '2026-11-25T10:30:00.000Z'],
    ['25 Nov 2026 05:30:00 EST', '2026-11-25T10:30:00.000Z'],
    ['1764066600', '2025-11-25T10:30:00.000Z'],
    ['1764066600.25', '2025-11-25T10:30:00.250Z'],
    ['1764066600000', '2025-11-25T10:30:00.000Z'],
    ['1764066600000000000', '2025-11-25T10:30:00.000Z'],
  ])('%s', (text, expected) => {
    const ms = parseTimestamp(text)
    expect(ms === null ? null : new Date(ms).toISOString()).toBe(expected)
  })

  it.each([
    ['hello 1'],
    ['2026-13-01'],
    ['2026-11-25T25:00:00Z'],
    ['2026-13-01T00:00:00.000Z'],
    ['2026-02-30T00:00:00.000Z'],
    ['2026-11-25T24:00:00.000Z'],
    ['31/02/2026'],
    ['Wed, 25 Foo 2026 10:30:00 GMT'],
    [''],
  ])('refuses %j rather than guessing', (text) => {
    expect(parseTimestamp(text)).toBeNull()
  })

  it('reads sent_at only as RFC 3339', () => {
    expect(parseSentAt('2026-11-25T10:30:00.5+01:00')).toBe(Date.parse('2026-11-25T09:30:00.500Z'))
    expect(parseSentAt('2026-11-25')).toBeNull()
    expect(parseSentAt('1764066600000')).toBeNull()
  })
})

describe('isoTimestamp', () => {
  it('formats every ms of the years 0–9999 as Date.prototype.toISOString does', () => {
    const edges = [-62_167_219_200_000, -1, 0, 951_782_400_000, 4_107_542_399_999, 253_402_300_799_999]
    for (const ms of edges) expect(isoTimestamp(ms)).toBe(new Date(ms).toISOString())
    fc.assert(
      fc.property(fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }), (ms) => {
        expect(isoTimestamp(ms)).toBe(new Date(ms).toISOString())
      }),
      { numRuns: 20_000 },
    )
    for (const ms of [1_764_547_200_123.4, -1.5, -0.5, 0.9, 253_402_300_799_999.9])
      expect(isoTimestamp(ms)).toBe(new Date(ms).toISOString())
    expect(
      correctedTimestamp({ timestamp: '1764547200.1234', sentAt: null, now: '2026-12-01T00:00:00.000Z' })
        .timestamp,
    ).toBe('2025-12-01T00:00:00.123Z')
  })
})
