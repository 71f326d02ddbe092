import { gzipSync } from 'node:zlib'
import LZString from 'lz-string'
import { describe, expect, it } from 'vitest'
import { decodeCaptureRequest, maxBodyBytes } from './decode-request.ts'
import {
  batchBody,
  capture,
  json,
  refusal,
  request,
  type TestRequest,
  testToken,
} from './testing/capture-helpers.ts'
import { lzRepeatBomb } from './testing/lz-bomb.ts'

const event = { event: 'clicked', distinct_id: 'user-1', properties: { a: 1 } }
const single = json({ ...event, api_key: testToken })
const base64 = (text: string | Buffer) => Buffer.from(text).toString('base64')
const form = { contentType: 'application/x-www-form-urlencoded' }
/** A base64 text that holds '+' signs, to see them survive form and URL decoding. */
const withPlus = json({ ...event, api_key: testToken, properties: { a: 1, pad: '>>>>>>' } })

describe('capture paths', () => {
  it.each(['/e', '/capture', '/track', '/engage', '/batch', '/i/v0/e'].flatMap((p) => [p, `${p}/`]))(
    'decodes a batch POSTed to %s and a GET data= to it',
    (path) => {
      expect(capture({ path, body: batchBody([event]) }).commands).toHaveLength(1)
      expect(capture({ path, method: 'GET', query: { data: single } }).commands).toHaveLength(1)
    },
  )

  it('allows 20 MiB raw bodies on /batch and 2 MiB elsewhere', () => {
    expect(maxBodyBytes('/batch/')).toBe(20 * 1024 * 1024)
    expect(maxBodyBytes('/batch')).toBe(20 * 1024 * 1024)
    for (const path of ['/e/', '/i/v0/e', '/capture', '/engage/'])
      expect(maxBodyBytes(path)).toBe(2 * 1024 * 1024)
  })
})

describe('capture encodings', () => {
  expect(base64(withPlus)).toContain('+')
  const lz = LZString.compressToBase64(single)
  const encodings: [string, TestRequest][] = [
    ['plain JSON event', { body: single }],
    ['JSON array', { body: json([{ ...event, token: testToken }]) }],
    ['batch object', { body: batchBody([event]) }],
    ['JSON after whitespace and a byte order mark', { body: `\uFEFF \n${single}` }],
    ['GET data= JSON', { method: 'GET', query: { data: single } }],
    ['GET data= base64', { method: 'GET', query: { data: base64(single) } }],
    [
      'GET data= base64 whose + became spaces',
      { method: 'GET', query: { data: base64(withPlus).replaceAll('+', ' ') } },
    ],
    ['form data= JSON', { headers: form, body: `data=${encodeURIComponent(single)}` }],
    [
      'form data= base64',
      { headers: form, query: { compression: 'base64' }, body: `data=${encodeURIComponent(base64(single))}` },
    ],
    ['form data= base64 with unescaped +', { headers: form, body: `data=${base64(withPlus)}` }],
    [
      'form body without the form content type',
      { headers: { contentType: 'text/plain' }, body: `data=${encodeURIComponent(single)}` },
    ],
    [
      'form with other fields first',
      { headers: form, body: `ver=1.78.5&_=1&data=${encodeURIComponent(base64(single))}` },
    ],
    ['base64 body', { body: base64(single) }],
    ['base64 body wrapped at 76 columns', { body: base64(single).replace(/(.{76})/g, '$1\n') }],
    ['Content-Encoding: gzip', { headers: { contentEncoding: 'gzip' }, body: gzipSync(single) }],
    ['?compression=gzip-js', { query: { compression: 'gzip-js' }, body: gzipSync(single) }],
    ['?compression=GZIP', { query: { compression: 'GZIP' }, body: gzipSync(single) }],
    [
      'unlabelled gzip as text/plain (posthog-js)',
      { headers: { contentType: 'text/plain' }, body: gzipSync(batchBody([event])) },
    ],
    ['gzip labelled lz64', { query: { compression: 'lz64' }, body: gzipSync(single) }],
    [
      'gzip-js label on a base64 form',
      {
        query: { compression: 'gzip-js' },
        headers: form,
        body: `data=${encodeURIComponent(base64(single))}`,
      },
    ],
    ['base64 of gzip', { body: base64(gzipSync(single)) }],
    ['gzip of base64 (legacy double wrap)', { body: gzipSync(base64(single)) }],
    ['base64 of base64 (legacy double wrap)', { path: '/capture/', body: base64(base64(single)) }],
    ['?compression=lz64', { query: { compression: 'lz64' }, body: lz }],
    ['?compression=lz-string', { query: { compression: 'lz-string' }, body: lz }],
    ['form compression=lz64', { headers: form, body: `compression=lz64&data=${encodeURIComponent(lz)}` }],
    ['Content-Encoding: lz64', { headers: { contentEncoding: 'lz64' }, body: lz }],
    ['GET data= lz64', { method: 'GET', query: { data: lz, compression: 'lz64' } }],
    ['unknown compression value ignored', { query: { compression: 'brotli' }, body: single }],
  ]

  it.each(encodings)('%s', (_name, partial) => {
    const { token, commands } = capture(partial)
    expect(token).toBe(testToken)
    expect(commands.map((c) => [c.event, c.distinct_id, JSON.parse(c.data).properties.a])).toEqual([
      ['clicked', 'user-1', 1],
    ])
  })

  it('takes the query hint over the form hint, and the form hint over the header', () => {
    const lzForm = `compression=base64&data=${encodeURIComponent(lz)}`
    expect(capture({ headers: form, query: { compression: 'lz64' }, body: lzForm }).commands).toHaveLength(1)
    expect(
      refusal({
        headers: form,
        query: { compression: 'base64' },
        body: `compression=lz64&data=${encodeURIComponent(lz)}`,
      }).status,
    ).toBe(400)
    const lzHeaderForm = { ...form, contentEncoding: 'base64' }
    expect(
      capture({ headers: lzHeaderForm, body: `compression=lz64&data=${encodeURIComponent(lz)}` }).commands,
    ).toHaveLength(1)
  })
})

describe('capture body shapes', () => {
  it('reads the batch envelope: token, sent_at, historical_migration', () => {
    const decoded = decodeCaptureRequest(
      request({
        body: json({
          token: 't1',
          batch: [event],
          sent_at: '2026-11-25T11:00:00Z',
          historical_migration: true,
        }),
      }),
    )
    expect(decoded).toMatchObject({
      batchToken: 't1',
      sentAt: '2026-11-25T11:00:00Z',
      historicalMigration: true,
    })
  })

  it('takes sent_at from the _ query parameter in milliseconds when the body has none', () => {
    const at = Date.parse('2026-11-25T11:59:59.500Z')
    expect(decodeCaptureRequest(request({ query: { _: String(at) }, body: single })).sentAt).toBe(
      '2026-11-25T11:59:59.500Z',
    )
    // seconds, as older SDKs sent, land before 2021 when read as milliseconds: ignored
    expect(decodeCaptureRequest(request({ query: { _: String(at / 1000) }, body: single })).sentAt).toBeNull()
    expect(decodeCaptureRequest(request({ query: { _: 'soon' }, body: single })).sentAt).toBeNull()
    const both = decodeCaptureRequest(
      request({ query: { _: String(at) }, body: batchBody([event], { sent_at: '2026-11-25T11:00:00Z' }) }),
    )
    expect(both.sentAt).toBe('2026-11-25T11:00:00Z')
  })

  it('turns an /engage people update into $identify', () => {
    const engage = { $token: testToken, $distinct_id: 'person-1', $set: { name: 'Ada' }, $unset: ['age'] }
    const [command] = capture({ path: '/engage/', body: json(engage) }).commands
    expect(command).toMatchObject({ event: '$identify', distinct_id: 'person-1', token: testToken })
    const data = JSON.parse(command?.data ?? '{}')
    expect(data).toMatchObject({ event: '$identify', $set: { name: 'Ada' }, properties: { $unset: ['age'] } })
    // only on /engage: elsewhere an object without an event name is refused
    expect(refusal({ path: '/e/', body: json(engage) })).toMatchObject({
      status: 400,
      code: 'missing_event_name',
    })
    // an /engage request that names its event keeps it
    expect(capture({ path: '/engage', body: json({ ...engage, event: '$set' }) }).commands[0]?.event).toBe(
      '$set',
    )
  })

  it('drops $performance_event, and accepts a request that held nothing else', () => {
    const only = decodeCaptureRequest(
      request({ body: batchBody([{ ...event, event: '$performance_event' }]) }),
    )
    expect(only).toMatchObject({ events: [], allDiscarded: true })
    const mixed = decodeCaptureRequest(
      request({ body: batchBody([{ ...event, event: '$performance_event' }, event]) }),
    )
    expect(mixed.events.map((e) => e.event)).toEqual(['clicked'])
    expect(mixed.allDiscarded).toBe(false)
  })
})

describe('capture refusals while decoding', () => {
  const gzipOfMiB = gzipSync(Buffer.alloc(1024 * 1024, 0x20))
  const refusals: [string, TestRequest, { status: number; code: string }][] = [
    ['no body and no data=', { body: '' }, { status: 400, code: 'no_data' }],
    ['a form without data', { headers: form, body: 'ver=1&data=' }, { status: 400, code: 'no_data' }],
    ['JSON sent as a form', { headers: form, body: single }, { status: 400, code: 'invalid_payload' }],
    ['broken JSON', { body: '{"event": ' }, { status: 400, code: 'invalid_json' }],
    [
      'invalid UTF-8',
      { body: Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]) },
      { status: 400, code: 'invalid_encoding' },
    ],
    ['truncated gzip', { body: gzipSync(single).subarray(0, 20) }, { status: 400, code: 'invalid_encoding' }],
    [
      'corrupt gzip',
      { body: Buffer.concat([gzipSync(single).subarray(0, 10), Buffer.alloc(40, 7)]) },
      { status: 400, code: 'invalid_encoding' },
    ],
    [
      'lz64 that is not lz-string',
      { query: { compression: 'lz64' }, body: 'not lz at all' },
      { status: 400, code: 'invalid_encoding' },
    ],
    ['a JSON number', { body: '42' }, { status: 400, code: 'invalid_payload' }],
    ['a JSON string', { body: '"event"' }, { status: 400, code: 'invalid_payload' }],
    ['null', { body: 'null' }, { status: 400, code: 'invalid_payload' }],
    ['an array holding a non-object', { body: json([event, 'x']) }, { status: 400, code: 'invalid_payload' }],
    ['an empty batch', { body: batchBody([]) }, { status: 400, code: 'no_events' }],
    ['an empty array', { body: '[]' }, { status: 400, code: 'no_events' }],
    [
      'nesting deeper than 128',
      { body: `[${'['.repeat(200)}${']'.repeat(200)}]` },
      { status: 400, code: 'invalid_json' },
    ],
    [
      'a gzip bomb (101 MiB of spaces)',
      { body: Buffer.concat(Array(101).fill(gzipOfMiB)) },
      { status: 413, code: 'payload_too_large' },
    ],
    [
      'an lz-string bomb',
      { query: { compression: 'lz64' }, body: lzRepeatBomb(14_600).base64 },
      { status: 413, code: 'payload_too_large' },
    ],
  ]

  it.each(refusals)('%s', (_name, partial, expected) => {
    expect(refusal(partial)).toMatchObject(expected)
  })

  it('accepts nesting up to the limit', () => {
    const nested = `${'{"a":'.repeat(120)}1${'}'.repeat(120)}`
    const body = `{"event":"e","distinct_id":"d","token":"${testToken}","properties":${nested}}`
    expect(capture({ body }).commands).toHaveLength(1)
  })
})
