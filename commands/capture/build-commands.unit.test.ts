import { describe, expect, it } from 'vitest'
import { maxCommandBytes } from './build-commands.ts'
import {
  batchBody,
  capture,
  json,
  refusal,
  testContext,
  testNow,
  testToken,
} from './testing/capture-helpers.ts'

const event = { event: 'clicked', distinct_id: 'user-1', properties: { a: 1 } }
const one = (fields: Record<string, unknown>) =>
  capture({ body: json({ token: testToken, ...fields }) }).commands[0]
const dataOf = (fields: Record<string, unknown>) => JSON.parse(one(fields)?.data ?? 'null')

describe('project token', () => {
  it.each([
    ['event token', { ...event, token: testToken }],
    ['event $token', { ...event, $token: testToken }],
    ['event api_key', { ...event, api_key: testToken }],
    ['properties.token', { ...event, properties: { token: testToken } }],
  ])('is read from the %s', (_where, body) => {
    expect(capture({ body: json(body) }).token).toBe(testToken)
    expect(capture({ body: json([body, body]) }).token).toBe(testToken)
  })

  it('is read from the batch api_key or token, which win over tokens inside events', () => {
    expect(
      capture({ body: json({ api_key: testToken, batch: [{ ...event, token: 'phc_other' }] }) }).token,
    ).toBe(testToken)
    expect(capture({ body: json({ token: testToken, batch: [event] }) }).token).toBe(testToken)
  })

  it('is read from a token or api_key query or form field when the body has none', () => {
    expect(capture({ query: { token: testToken }, body: json(event) }).token).toBe(testToken)
    expect(capture({ query: { api_key: testToken }, body: json(event) }).token).toBe(testToken)
    const form = { contentType: 'application/x-www-form-urlencoded' }
    expect(
      capture({ headers: form, body: `api_key=${testToken}&data=${encodeURIComponent(json(event))}` }).token,
    ).toBe(testToken)
  })

  it.each([
    ['missing', json(event), 401, 'missing_token'],
    ['an empty batch api_key', json({ api_key: '', batch: [event] }), 401, 'missing_token'],
    ['a personal API key', json({ ...event, token: 'phx_personal' }), 401, 'invalid_token'],
    ['longer than 64', json({ ...event, token: 'p'.repeat(65) }), 401, 'invalid_token'],
    ['not ASCII', json({ ...event, token: 'phc_ü' }), 401, 'invalid_token'],
    ['holding NUL', json({ ...event, token: 'phc_\u0000' }), 401, 'invalid_token'],
    [
      'two different ones',
      json([
        { ...event, token: testToken },
        { ...event, token: 'phc_other' },
      ]),
      400,
      'multiple_tokens',
    ],
  ])('refuses a token %s', (_what, body, status, code) => {
    expect(refusal({ body })).toMatchObject({ status, code })
  })

  it('ignores a token that is not a string and looks further', () => {
    expect(capture({ body: json({ ...event, token: 42, properties: { token: testToken } }) }).token).toBe(
      testToken,
    )
  })
})

describe('distinct id', () => {
  it.each([
    ['a string as sent', { distinct_id: 'abc' }, 'abc'],
    ['$distinct_id', { $distinct_id: 'dollar' }, 'dollar'],
    ['properties.distinct_id', { properties: { distinct_id: 'inside' } }, 'inside'],
    ['top level over properties', { distinct_id: 'top', properties: { distinct_id: 'inside' } }, 'top'],
    ['a number as text', { distinct_id: 123 }, '123'],
    ['a float as text', { distinct_id: 23.4 }, '23.4'],
    ['a boolean as text', { distinct_id: true }, 'true'],
    ['an array as JSON', { distinct_id: ['a', 'b'] }, '["a","b"]'],
    [
      'an object as JSON with sorted keys',
      { distinct_id: { string: 'a', number: 3 } },
      '{"number":3,"string":"a"}',
    ],
    ['NUL replaced', { distinct_id: 'a\u0000b' }, 'a\uFFFDb'],
    ['truncated to 200 characters', { distinct_id: 'x'.repeat(300) }, 'x'.repeat(200)],
    ['truncated by characters, not UTF-16 units', { distinct_id: '🎉'.repeat(250) }, '🎉'.repeat(200)],
  ])('is %s', (_what, fields, expected) => {
    expect(one({ event: 'e', ...fields })?.distinct_id).toBe(expected)
  })

  it.each([
    ['missing', {}],
    ['null', { distinct_id: null }],
    ['empty', { distinct_id: '' }],
    ['empty at the top even with one in properties', { distinct_id: '', properties: { distinct_id: 'x' } }],
  ])('refuses an event whose distinct id is %s', (_what, fields) => {
    expect(refusal({ body: json({ event: 'e', token: testToken, ...fields }) })).toMatchObject({
      status: 400,
      code: 'missing_distinct_id',
    })
  })
})

describe('uuid and event name', () => {
  it('keeps a sent uuid, written lower-case hyphenated, in the command and in data', () => {
    const sent = '0190F0A0-1111-7000-8000-00000000000A'
    const command = one({ ...event, uuid: sent })
    expect(command?.uuid).toBe(sent.toLowerCase())
    expect(JSON.parse(command?.data ?? '{}').uuid).toBe(sent.toLowerCase())
    expect(one({ ...event, uuid: '0190f0a011117000800000000000000a' })?.uuid).toBe(sent.toLowerCase())
    expect(one({ ...event, uuid: `{${sent}}` })?.uuid).toBe(sent.toLowerCase())
  })

  it('mints a uuid when there is none or it is empty', () => {
    expect(one(event)?.uuid).toBe('0190f0a0-0000-7000-8000-000000000001')
    expect(one({ ...event, uuid: '' })?.uuid).toBe('0190f0a0-0000-7000-8000-000000000001')
    expect(one({ ...event, uuid: null })?.uuid).toBe('0190f0a0-0000-7000-8000-000000000001')
  })

  it.each([['not-a-uuid'], ['0190f0a0-1111-7000-8000-00000000000'], [42], [{}]])(
    'refuses the uuid %j',
    (uuid) => {
      expect(refusal({ body: json({ ...event, token: testToken, uuid }) })).toMatchObject({
        status: 400,
        code: 'invalid_uuid',
      })
    },
  )

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['not a string', 7],
  ])('refuses an event name that is %s', (_what, name) => {
    expect(refusal({ body: json({ ...event, token: testToken, event: name }) })).toMatchObject({
      status: 400,
      code: 'missing_event_name',
    })
  })

  it('refuses the whole request when one event of a batch is bad', () => {
    expect(refusal({ body: batchBody([event, { ...event, distinct_id: '' }]) }).code).toBe(
      'missing_distinct_id',
    )
  })
})

describe('the command', () => {
  it('is PostHog capture message plus the corrected timestamp', () => {
    const context = testContext({ siteUrl: 'https://sluice.example' })
    const body = batchBody(
      [{ ...event, uuid: '0190f0a0-1111-7000-8000-000000000001', timestamp: '2026-11-25T11:59:00.000Z' }],
      {
        sent_at: '2026-11-25T12:00:30.000Z',
      },
    )
    expect(capture({ body }, context).commands).toEqual([
      {
        uuid: '0190f0a0-1111-7000-8000-000000000001',
        distinct_id: 'user-1',
        ip: '203.0.113.7',
        site_url: 'https://sluice.example',
        data: expect.any(String),
        now: testNow.toISOString(),
        sent_at: '2026-11-25T12:00:30.000Z',
        token: testToken,
        event: 'clicked',
        timestamp: '2026-11-25T11:58:30.000Z',
      },
    ])
  })

  it('marks a historical migration and leaves out what is unknown', () => {
    const [command] = capture(
      { body: json({ api_key: testToken, historical_migration: true, batch: [event] }) },
      testContext({ ip: null }),
    ).commands
    expect(command).toMatchObject({ historical_migration: true, ip: null })
    expect(command).not.toHaveProperty('sent_at')
    expect(command).not.toHaveProperty('site_url')
  })

  it('ignores a sent_at that is not RFC 3339', () => {
    const [command] = capture({
      body: batchBody([{ ...event, timestamp: '2026-11-25T10:00:00Z' }], { sent_at: 'yesterday' }),
    }).commands
    expect(command).not.toHaveProperty('sent_at')
    expect(command?.timestamp).toBe('2026-11-25T10:00:00.000Z')
    expect(command?.timestamp_warnings).toEqual([
      { field: 'sent_at', value: 'yesterday', reason: 'sent_at is not an RFC 3339 time' },
    ])
  })

  it('records why an event time could not be used, for ingest to warn about; nothing when all is well', () => {
    const [unreadable, future, fine] = capture({
      body: batchBody([
        { ...event, timestamp: 'soon' },
        { ...event, timestamp: '2026-11-27T12:00:00Z' },
        { ...event, timestamp: '2026-11-25T10:00:00Z' },
      ]),
    }).commands
    expect(unreadable?.timestamp).toBe(testNow.toISOString())
    expect(unreadable?.timestamp_warnings).toEqual([
      { field: 'timestamp', value: 'soon', reason: 'timestamp is not a time' },
    ])
    expect(future?.timestamp_warnings?.[0]?.reason).toBe(
      'event timestamp is more than 23 hours in the future',
    )
    expect(fine).not.toHaveProperty('timestamp_warnings')
  })

  it('honours $ignore_sent_at and offset', () => {
    const sentAt = { sent_at: '2026-11-25T13:00:00Z' }
    const ignoring = { ...event, timestamp: '2026-11-25T10:00:00Z', properties: { $ignore_sent_at: true } }
    expect(capture({ body: batchBody([ignoring], sentAt) }).commands[0]?.timestamp).toBe(
      '2026-11-25T10:00:00.000Z',
    )
    expect(capture({ body: batchBody([{ ...event, offset: 1500 }], sentAt) }).commands[0]?.timestamp).toBe(
      '2026-11-25T11:59:58.500Z',
    )
  })
})

describe('the client IP, as the project asks', () => {
  const withClientIp = batchBody([{ ...event, properties: { a: 1, $ip: '198.51.100.3' } }, event])

  it('is left out of every command of a project that anonymizes IPs, the client $ip too', () => {
    const { commands } = capture({ body: withClientIp }, testContext({ anonymizeIps: true }))
    expect(commands).toHaveLength(2)
    for (const command of commands) {
      expect(command).toMatchObject({ ip: null, anonymize_ips: true })
      expect(command.data).not.toContain('198.51.100.3')
      expect(JSON.stringify(command)).not.toContain('203.0.113.7')
    }
    expect(JSON.parse(commands[0]?.data ?? 'null').properties).toEqual({ a: 1 })
  })

  it('is kept for a project that does not, and the decision recorded', () => {
    const { commands } = capture({ body: withClientIp }, testContext({ anonymizeIps: false }))
    expect(commands.map((c) => [c.ip, c.anonymize_ips])).toEqual([
      ['203.0.113.7', false],
      ['203.0.113.7', false],
    ])
    expect(JSON.parse(commands[0]?.data ?? 'null').properties).toEqual({ a: 1, $ip: '198.51.100.3' })
  })

  it('is kept undecided when the project could not be looked up, for ingest to decide', () => {
    const [command] = capture({ body: withClientIp }).commands
    expect(command?.ip).toBe('203.0.113.7')
    expect(command).not.toHaveProperty('anonymize_ips')
  })
})

describe('data: the event as PostHog capture re-serialises it', () => {
  it('keeps event, properties, timestamp, offset, $set, $set_once, token, distinct_id, uuid and drops the rest', () => {
    const data = dataOf({
      ...event,
      timestamp: '2026-11-25T11:00:00Z',
      offset: 10,
      $set: { email: 'a@b' },
      $set_once: { first: 1 },
      $unset: ['x'],
      elements: [1],
      api_key: testToken,
    })
    expect(data).toEqual({
      event: 'clicked',
      properties: { a: 1 },
      timestamp: '2026-11-25T11:00:00Z',
      offset: 10,
      $set: { email: 'a@b' },
      $set_once: { first: 1 },
      token: testToken,
      distinct_id: 'user-1',
      uuid: '0190f0a0-0000-7000-8000-000000000001',
    })
  })

  it('writes the raw distinct id and the event-level token as sent', () => {
    expect(dataOf({ event: 'e', $distinct_id: 42, $token: testToken })).toMatchObject({
      distinct_id: 42,
      token: testToken,
    })
  })

  it('gives properties {} when absent or null', () => {
    expect(dataOf({ event: 'e', distinct_id: 'd' }).properties).toEqual({})
    expect(dataOf({ event: 'e', distinct_id: 'd', properties: null, $set: null }).properties).toEqual({})
  })

  it.each([
    ['properties', 'string'],
    ['properties', [1, 2]],
    ['$set', 5],
    ['$set_once', ['a']],
  ])('refuses %s of the wrong type (%j)', (field, value) => {
    expect(refusal({ body: json({ ...event, token: testToken, [field]: value }) })).toMatchObject({
      status: 400,
      code: 'invalid_payload',
    })
  })

  it('keeps __proto__ and constructor keys as plain data', () => {
    const body = `{"event":"e","distinct_id":"d","token":"${testToken}","properties":{"__proto__":{"polluted":true},"constructor":{"prototype":{"p":1}}},"__proto__":{"event":"x"}}`
    const [command] = capture({ body }).commands
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    const properties = JSON.parse(command?.data ?? '{}').properties
    expect(Object.getOwnPropertyDescriptor(properties, '__proto__')?.value).toEqual({ polluted: true })
    expect(properties.constructor).toEqual({ prototype: { p: 1 } })
    expect(command?.event).toBe('e')
  })
})

describe('event size', () => {
  const sized = (bytes: number, filler = 'x') => ({ ...event, properties: { blob: filler.repeat(bytes) } })

  it(`accepts an event whose message is just under ${maxCommandBytes} bytes`, () => {
    const [command] = capture({ body: batchBody([sized(maxCommandBytes - 1000)]) }).commands
    expect(Buffer.byteLength(JSON.stringify(command))).toBeLessThanOrEqual(maxCommandBytes)
  })

  it('refuses an event whose message would exceed the limit, counting the escaping', () => {
    expect(refusal({ body: batchBody([sized(maxCommandBytes)]) })).toMatchObject({
      status: 413,
      code: 'payload_too_large',
    })
    // 400 000 quotes are 800 000 bytes in data and 1 600 000 once data is itself a JSON string
    expect(refusal({ body: batchBody([sized(400_000, '"')]) })).toMatchObject({
      status: 413,
      code: 'payload_too_large',
    })
    expect(capture({ body: batchBody([sized(200_000, '"')]) }).commands).toHaveLength(1)
  })
})
