import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { buildCaptureCommands, type CaptureContext, maxCommandBytes } from './build-commands.ts'
import { captureRequestRecords, commandsOfRequest } from './capture-request.ts'
import { decodeCaptureRequest } from './decode-request.ts'
import { refusal, request, testContext, testToken } from './testing/capture-helpers.ts'

const distinctId = fc.oneof(fc.constantFrom('u1', 'u2', 'ünï', '  padded  ', 'x'.repeat(250)), fc.integer())
const properties = fc.dictionary(
  fc.constantFrom('plan', '$ip', '$set', 'token', 'distinct_id', '__proto__', 'n'),
  fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.constant({ nested: ['a', 1] })),
  { maxKeys: 4 },
)
const event = fc.record(
  {
    event: fc.constantFrom('$pageview', '$identify', '$performance_event', 'bought'),
    distinct_id: distinctId,
    properties,
    uuid: fc.constantFrom('0190f0a0-0000-7000-8000-00000000abcd', '0190F0A0-0000-7000-8000-00000000ABCE'),
    timestamp: fc.constantFrom('2026-11-25T10:00:00Z', 'soon', '2027-01-01T00:00:00Z'),
    offset: fc.integer({ min: 0, max: 10_000 }),
    $set: fc.constant({ plan: 'pro' }),
  },
  { requiredKeys: ['event', 'distinct_id'] },
)
const requests = fc.record({
  path: fc.constantFrom('/batch/', '/e/', '/engage/', '/i/v0/e/'),
  body: fc.oneof(
    fc.record({
      api_key: fc.constant(testToken),
      batch: fc.array(event, { minLength: 1, maxLength: 6 }),
      sent_at: fc.constantFrom(undefined, '2026-11-25T10:00:01Z', 'yesterday'),
      historical_migration: fc.boolean(),
    }),
    event.map((e) => ({ ...e, token: testToken })),
    fc.array(
      event.map((e) => ({ ...e, api_key: testToken })),
      { minLength: 1, maxLength: 3 },
    ),
  ),
  anonymizeIps: fc.constantFrom(undefined, true, false),
})

/** A context that mints the same uuids in the same order, for capture then for the reference build. */
function mintingContext(anonymizeIps: boolean | undefined): () => CaptureContext {
  return () => ({ ...testContext({ siteUrl: 'https://sluice.example' }), anonymizeIps })
}

describe('a request record', () => {
  it('splits into exactly the capture messages capture would have written for each event', () => {
    fc.assert(
      fc.property(requests, ({ path, body, anonymizeIps }) => {
        const decoded = decodeCaptureRequest(request({ path, body: JSON.stringify(body) }))
        if (decoded.allDiscarded) return
        const context = mintingContext(anonymizeIps)
        const records = captureRequestRecords(decoded, context())
        const split = records.flatMap((record) => commandsOfRequest(record))
        expect(split).toEqual(buildCaptureCommands(decoded, context()).commands)
      }),
      { numRuns: 500 },
    )
  })

  it('keeps the payload as sent and capture decisions apart, one record keyed by token', () => {
    const body = JSON.stringify({ api_key: testToken, batch: [{ event: 'e', distinct_id: 'd' }] })
    const decoded = decodeCaptureRequest(request({ path: '/batch/', body }))
    const [record, ...more] = captureRequestRecords(decoded, testContext())
    expect(more).toEqual([])
    expect(record?.key).toBe(testToken)
    expect(record?.value).toBe(body)
    expect(JSON.parse(record?.headers?.capture ?? '')).toEqual({
      token: testToken,
      path: '/batch',
      now: '2026-11-25T12:00:00.000Z',
      ip: '203.0.113.7',
      sent_at: null,
      minted_from: '0190f0a0-0000-7000-8000-000000000001',
    })
  })

  it('mints one uuid per request and counts the others up from it, as the split does again', () => {
    const body = JSON.stringify({
      api_key: testToken,
      batch: [
        { event: 'a', distinct_id: 'd' },
        { event: 'b', distinct_id: 'd', uuid: '0190f0a0-0000-7000-8000-00000000abcd' },
        { event: 'c', distinct_id: 'd' },
      ],
    })
    const decoded = decodeCaptureRequest(request({ path: '/batch/', body }))
    const first = '0190f0a0-0000-7000-8000-fffffffffffe'
    const [record] = captureRequestRecords(decoded, testContext({ newUuid: () => first }))
    expect(JSON.parse(record?.headers?.capture ?? '').minted_from).toBe(first)
    expect(commandsOfRequest(record!).map((command) => command.uuid)).toEqual([
      first,
      '0190f0a0-0000-7000-8000-00000000abcd',
      '0190f0a0-0000-7000-8000-ffffffffffff',
    ])
  })

  it('splits a record of the releases before 2026-12-02, which listed every minted uuid', () => {
    const body = JSON.stringify({ api_key: testToken, batch: [{ event: 'a', distinct_id: 'd' }] })
    const header = {
      token: testToken,
      path: '/batch',
      now: '2026-11-25T12:00:00.000Z',
      ip: null,
      sent_at: null,
    }
    const listed = '0190f0a0-0000-7000-8000-000000000042'
    const [command] = commandsOfRequest({
      value: body,
      headers: { capture: JSON.stringify({ ...header, minted: [listed] }) },
    })
    expect(command?.uuid).toBe(listed)
    expect(() =>
      commandsOfRequest({ value: body, headers: { capture: JSON.stringify({ ...header, minted: [] }) } }),
    ).toThrow(/fewer uuids/)
  })

  it("stores no client IP for a project that anonymizes, not even the events' own $ip", () => {
    const body = JSON.stringify({
      api_key: testToken,
      batch: [{ event: 'e', distinct_id: 'd', properties: { $ip: '192.0.2.9', plan: 'x' } }],
    })
    const decoded = decodeCaptureRequest(request({ path: '/batch/', body }))
    const records = captureRequestRecords(decoded, testContext({ anonymizeIps: true }))
    expect(JSON.stringify(records)).not.toMatch(/192\.0\.2\.9|203\.0\.113\.7/)
    const [command] = records.flatMap((record) => commandsOfRequest(record))
    expect(JSON.parse(command!.data).properties).toEqual({ plan: 'x' })
  })

  it('is cut into several records of whole events when the payload could pass the message limit', () => {
    const big = 'x'.repeat(200_000)
    const events = Array.from({ length: 12 }, (_, i) => ({
      event: 'e',
      distinct_id: `d${i}`,
      properties: { big },
    }))
    const decoded = decodeCaptureRequest(
      request({ path: '/batch/', body: JSON.stringify({ api_key: testToken, batch: events }) }),
    )
    const records = captureRequestRecords(decoded, testContext())
    expect(records.length).toBeGreaterThan(1)
    for (const record of records) expect(Buffer.byteLength(record.value)).toBeLessThan(maxCommandBytes)
    const split = records.flatMap((record) => commandsOfRequest(record))
    expect(split.map((c) => c.distinct_id)).toEqual(events.map((e) => e.distinct_id))
    expect(split).toEqual(buildCaptureCommands(decoded, testContext()).commands)
  })

  it('refuses at capture what capture refused before: an event alone over the limit, a bad one', () => {
    const huge = JSON.stringify({
      api_key: testToken,
      batch: [{ event: 'e', distinct_id: 'd', properties: { x: 'y'.repeat(1_100_000) } }],
    })
    expect(() =>
      captureRequestRecords(decodeCaptureRequest(request({ path: '/batch/', body: huge })), testContext()),
    ).toThrow(expect.objectContaining({ code: 'payload_too_large' }))
    const nameless = JSON.stringify({ api_key: testToken, batch: [{ distinct_id: 'd' }] })
    expect(refusal({ path: '/batch/', body: nameless }).code).toBe('missing_event_name')
  })

  it('cannot be split without capture decisions of the known shape', () => {
    expect(() => commandsOfRequest({ value: '[]' })).toThrow(/no capture decisions/)
    expect(() => commandsOfRequest({ value: '[]', headers: { capture: '{"token":1}' } })).toThrow(
      /known shape/,
    )
  })
})
