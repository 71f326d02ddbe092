import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import LZString from 'lz-string'
import { describe, expect, it } from 'vitest'
import { errorCatalogue } from '../../adapters/http/errors.ts'
import { buildCaptureCommands } from './build-commands.ts'
import { type CaptureHttpRequest, decodeCaptureRequest } from './decode-request.ts'
import { CaptureError } from './errors.ts'
import { testContext, testToken } from './testing/capture-helpers.ts'

const paths = ['/e', '/e/', '/capture/', '/track', '/engage/', '/batch/', '/batch', '/i/v0/e/']
const fieldNames = [
  'event',
  'distinct_id',
  '$distinct_id',
  'properties',
  'token',
  '$token',
  'api_key',
  'uuid',
  'timestamp',
  'offset',
  '$set',
  '$set_once',
  'batch',
  'sent_at',
  'historical_migration',
]
const hostileKeys = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', ...fieldNames]

/** Any JSON value, biased towards keys capture reads and keys that attack prototypes. */
const hostileJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...hostileKeys), fc.string({ maxLength: 6 })), tie('value'), {
      maxKeys: 5,
    }),
  ),
})).value

/** An event whose every field may hold the wrong type. */
const eventWithWrongTypes = fc.record(
  Object.fromEntries(fieldNames.slice(0, 12).map((name) => [name, hostileJson])),
  { requiredKeys: [] },
)

const jsonText = fc.oneof(
  hostileJson.map((value) => JSON.stringify(value)),
  eventWithWrongTypes.map((event) => JSON.stringify(event)),
  fc.array(eventWithWrongTypes, { maxLength: 5 }).map((events) => JSON.stringify(events)),
  fc
    .record({
      api_key: hostileJson,
      batch: fc.array(eventWithWrongTypes, { maxLength: 5 }),
      sent_at: hostileJson,
    })
    .map((batch) => JSON.stringify(batch)),
  // half surrogate pairs, only expressible as escapes
  fc.constantFrom('"\\ud800"', '{"event":"\\udc00","distinct_id":"\\ud800","token":"phc_x"}'),
)

const deeplyNested = fc
  .tuple(fc.integer({ min: 100, max: 100_000 }), fc.constantFrom('[', '{"a":'))
  .map(([depth, open]) => `${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}`)

const bodies: fc.Arbitrary<Buffer> = fc.oneof(
  jsonText.map((text) => Buffer.from(text)),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  fc.string({ unit: 'binary' }).map((text) => Buffer.from(text)),
  jsonText.map((text) => gzipSync(text)),
  fc.tuple(jsonText, fc.nat(40)).map(([text, cut]) => gzipSync(text).subarray(0, cut)),
  jsonText.map((text) => Buffer.from(Buffer.from(text).toString('base64'))),
  jsonText.map((text) => Buffer.from(LZString.compressToBase64(text))),
  jsonText.map((text) => Buffer.from(`data=${encodeURIComponent(Buffer.from(text).toString('base64'))}`)),
  jsonText.map((text) => Buffer.from(`ver=1&data=${encodeURIComponent(text)}&compression=lz64`)),
  fc
    .constantFrom('data=', 'data=%', 'compression=gzip', '_=1&data=%ZZ', '\uFEFF')
    .map((text) => Buffer.from(text)),
  deeplyNested.map((text) => Buffer.from(text)),
)

const requests: fc.Arbitrary<CaptureHttpRequest> = fc
  .record({
    path: fc.constantFrom(...paths),
    method: fc.constantFrom<'GET' | 'POST'>('GET', 'POST'),
    body: bodies,
    dataInQuery: fc.boolean(),
    compression: fc.constantFrom(undefined, 'gzip', 'gzip-js', 'lz64', 'base64', 'b64', 'nonsense'),
    contentType: fc.constantFrom(
      undefined,
      'application/json',
      'text/plain',
      'application/x-www-form-urlencoded',
    ),
    contentEncoding: fc.constantFrom(undefined, 'gzip', 'lz64', 'identity'),
    sentAt: fc.constantFrom(undefined, '1764072000000', '-1', '99999999999999999999', 'x'),
  })
  .map((r) => ({
    path: r.path,
    method: r.method,
    query: {
      compression: r.compression,
      _: r.sentAt,
      ...(r.dataInQuery ? { data: r.body.toString('latin1') } : {}),
    },
    headers: { contentType: r.contentType, contentEncoding: r.contentEncoding },
    body: r.dataInQuery ? Buffer.alloc(0) : r.body,
  }))

function decodeAndBuild(request: CaptureHttpRequest) {
  const decoded = decodeCaptureRequest(request)
  return buildCaptureCommands(decoded, testContext())
}

describe('capture under hostile input', () => {
  it('either builds commands or refuses with a 4xx CaptureError — never another exception', () => {
    fc.assert(
      fc.property(requests, (request) => {
        try {
          const { commands } = decodeAndBuild(request)
          for (const command of commands) {
            expect(JSON.parse(command.data)).toEqual(expect.any(Object))
            expect(command.distinct_id.length).toBeGreaterThan(0)
            expect(Number.isNaN(Date.parse(command.timestamp ?? ''))).toBe(false)
          }
        } catch (error) {
          if (!(error instanceof CaptureError)) throw error
          expect([400, 401, 413]).toContain(errorCatalogue[error.code].status)
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined()
        expect(Object.keys(Object.prototype)).toEqual([])
      }),
      { numRuns: 3000 },
    )
  })

  it('refuses bombs with 413 and huge flat JSON by size, quickly', () => {
    const spacesMiB = gzipSync(Buffer.alloc(1024 * 1024, 0x20))
    const bomb = Buffer.concat(Array(101).fill(spacesMiB))
    for (const path of ['/e/', '/batch/']) {
      expect(() => decodeAndBuild({ path, method: 'POST', query: {}, headers: {}, body: bomb })).toThrow(
        expect.objectContaining({ code: 'payload_too_large' }),
      )
    }
    const hugeEvent = JSON.stringify({
      event: 'e',
      distinct_id: 'd',
      token: testToken,
      properties: { x: 'y'.repeat(3_000_000) },
    })
    expect(() =>
      decodeAndBuild({ path: '/batch/', method: 'POST', query: {}, headers: {}, body: gzipSync(hugeEvent) }),
    ).toThrow(expect.objectContaining({ code: 'payload_too_large' }))
  })

  it('decodes the valid events of a batch whatever junk their properties hold', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            distinctId: fc.string({ unit: 'binary', minLength: 1, maxLength: 50 }),
            junk: hostileJson,
          }),
          {
            minLength: 1,
            maxLength: 20,
          },
        ),
        fc.constantFrom(...paths),
        fc.constantFrom('json', 'gzip', 'base64 form'),
        (events, path, encoding) => {
          const batch = events.map((e) => ({
            event: 'ok',
            distinct_id: e.distinctId,
            properties: { junk: e.junk },
          }))
          const text = JSON.stringify({ api_key: testToken, batch })
          const body =
            encoding === 'gzip'
              ? gzipSync(text)
              : encoding === 'json'
                ? Buffer.from(text)
                : Buffer.from(`data=${encodeURIComponent(Buffer.from(text).toString('base64'))}`)
          const { token, commands } = decodeAndBuild({ path, method: 'POST', query: {}, headers: {}, body })
          expect(token).toBe(testToken)
          expect(commands.map((c) => c.distinct_id)).toEqual(
            events.map((e) => Array.from(e.distinctId.replaceAll('\u0000', '\uFFFD')).join('')),
          )
          expect(commands.map((c) => JSON.parse(c.data).properties.junk)).toEqual(
            events.map((e) => JSON.parse(JSON.stringify(e.junk) ?? 'null')),
          )
        },
      ),
      { numRuns: 300 },
    )
  })
})
