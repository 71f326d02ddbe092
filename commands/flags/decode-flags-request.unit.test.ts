import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { errorCatalogue } from '../../adapters/http/errors.ts'
import { decodeFlagsRequest, type FlagsHttpRequest } from './decode-flags-request.ts'
import { FlagsRequestError } from './errors.ts'

const body = {
  token: 'phc_test',
  distinct_id: 'user-1',
  groups: { company: 'acme' },
  person_properties: { email: 'a@b.c' },
  group_properties: { company: { size: 5 } },
  $anon_distinct_id: 'anon-1',
  flag_keys_to_evaluate: ['beta'],
}
const decoded = {
  token: 'phc_test',
  distinctId: 'user-1',
  anonDistinctId: 'anon-1',
  groups: { company: 'acme' },
  personProperties: { email: 'a@b.c' },
  groupProperties: { company: { size: 5 } },
  flagKeys: ['beta'],
  disableFlags: false,
}

function request(
  partial: Omit<Partial<FlagsHttpRequest>, 'body'> & { body: Buffer | string },
): FlagsHttpRequest {
  return {
    query: {},
    headers: {},
    ...partial,
    body: typeof partial.body === 'string' ? Buffer.from(partial.body) : partial.body,
  }
}

function refusal(partial: Parameters<typeof request>[0]): FlagsRequestError {
  try {
    decodeFlagsRequest(request(partial))
  } catch (error) {
    if (error instanceof FlagsRequestError) return error
    throw error
  }
  throw new Error('the request was accepted')
}

describe('flags request bodies, as the SDKs send them', () => {
  const json = JSON.stringify(body)
  const base64 = Buffer.from(json).toString('base64')

  it.each([
    ['posthog-node: plain JSON', { body: json, headers: { contentType: 'application/json' } }],
    [
      'posthog-js: gzip labelled text/plain, no hint',
      { body: gzipSync(json), headers: { contentType: 'text/plain' } },
    ],
    [
      'posthog-js without compression: form data= base64',
      {
        body: `data=${encodeURIComponent(base64)}`,
        query: { compression: 'base64' },
        headers: { contentType: 'application/x-www-form-urlencoded' },
      },
    ],
    [
      'old posthog-js: data= base64 with its + turned into spaces',
      { body: `data=${base64.replaceAll('+', ' ')}` },
    ],
    ['a GET with ?data=', { body: '', query: { data: base64 } }],
    ['Content-Encoding: gzip', { body: gzipSync(json), headers: { contentEncoding: 'gzip' } }],
    [
      'JSON that curl labels a form',
      { body: json, headers: { contentType: 'application/x-www-form-urlencoded' } },
    ],
  ] as const)('%s', (_name, partial) => {
    expect(decodeFlagsRequest(request(partial))).toEqual(decoded)
  })

  it('reads the aliases, numeric distinct ids, NaN as null, and cuts ids at 200 characters', () => {
    const text = `{"api_key":"phc_test","$distinct_id":12345,"$properties":{"score":NaN,"text":"NaN"},"flag_keys":["a"],"disable_flags":true}`
    expect(decodeFlagsRequest(request({ body: text }))).toMatchObject({
      token: 'phc_test',
      distinctId: '12345',
      personProperties: { score: null, text: 'NaN' },
      flagKeys: ['a'],
      disableFlags: true,
    })
    const long = decodeFlagsRequest(
      request({ body: JSON.stringify({ token: 't', distinct_id: '🦊'.repeat(300) }) }),
    )
    expect([...long.distinctId]).toHaveLength(200)
  })

  it.each([
    [{ body: '' }, 400, 'invalid_payload'],
    [{ body: 'not json' }, 400, 'invalid_payload'],
    [{ body: '[1,2]' }, 400, 'invalid_payload'],
    [{ body: Buffer.from([0x1f, 0x8b, 0x08, 0, 1, 2]) }, 400, 'invalid_payload'],
    [{ body: '{"distinct_id":"u"}' }, 401, 'missing_token'],
    [{ body: '{"token":"t"}' }, 400, 'missing_distinct_id'],
    [{ body: '{"token":"t","distinct_id":{"a":1}}' }, 400, 'invalid_payload'],
    [{ body: '{"token":"t","distinct_id":"u","person_properties":[1]}' }, 400, 'invalid_payload'],
    [{ body: '{"token":"t","distinct_id":"u","group_properties":{"company":3}}' }, 400, 'invalid_payload'],
    [{ body: '{"token":"t","distinct_id":"u","flag_keys":"beta"}' }, 400, 'invalid_payload'],
  ] as const)('refuses %j with %i %s', (partial, status, code) => {
    const error = refusal(partial)
    expect(errorCatalogue[error.code].status).toBe(status)
    expect(error.code).toBe(code)
  })
})
