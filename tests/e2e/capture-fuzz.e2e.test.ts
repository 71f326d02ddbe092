import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, type SluiceProcess, startSluiceProcess } from '../support/sluice-process.ts'

const paths = ['/e', '/e/', '/capture/', '/track/', '/engage/', '/batch', '/batch/', '/i/v0/e/']

/**
 * Hostile traffic at every capture path of a running sluice, with good events mixed in: every
 * request gets 200 or a 4xx JSON error, the process stays up, and every good event arrives.
 */
describe('capture over HTTP under hostile input', () => {
  let sluice: SluiceProcess

  beforeAll(async () => {
    sluice = await startSluiceProcess()
  })
  afterAll(async () => {
    await sluice?.stop()
  })

  it('answers every request sensibly and loses none of the good events', async () => {
    const token = sluice.credentials.project_token
    const hostile = fc.sample(
      fc.record({
        path: fc.constantFrom(...paths),
        contentType: fc.constantFrom(
          'application/json',
          'text/plain',
          'application/x-www-form-urlencoded',
          'application/octet-stream',
        ),
        query: fc.constantFrom(
          '',
          '?compression=gzip-js',
          '?compression=lz64',
          '?compression=base64',
          '?data=%7B',
          '?ver=1&_=abc',
        ),
        body: fc.oneof(
          fc.json().map((j) => Buffer.from(j)),
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          fc.json().map((j) => gzipSync(j).subarray(0, 10)),
          fc.constant(
            Buffer.from(`{"api_key":"${token}","batch":[{"event":"x","distinct_id":"d","uuid":"nope"}]}`),
          ),
          fc.constant(
            Buffer.from(
              '{"__proto__":{"polluted":1},"event":"x","distinct_id":"d","token":"phc_not_a_project"}',
            ),
          ),
          fc.constant(Buffer.from(`${'['.repeat(50_000)}${']'.repeat(50_000)}`)),
          fc.constant(Buffer.from([0xff, 0xfe, 0x00, 0x7b])),
        ),
      }),
      { numRuns: 300, seed: 20261125 },
    )
    const good = Array.from({ length: 30 }, (_, i) => `fuzz-good-${i}`)
    const requests = [
      ...hostile.map(async (r) => {
        const response = await fetch(`${sluice.url}${r.path}${r.query}`, {
          method: 'POST',
          headers: { 'content-type': r.contentType },
          body: r.body,
        })
        return { status: response.status, body: await response.text() }
      }),
      ...good.map(async (distinctId, i) => {
        const body = {
          api_key: token,
          batch: [{ event: 'fuzz_good', distinct_id: distinctId, properties: { i } }],
        }
        const response = await fetch(`${sluice.url}${paths[i % paths.length]}`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain' },
          body: i % 2 === 0 ? gzipSync(JSON.stringify(body)) : JSON.stringify(body),
        })
        return { status: response.status, body: await response.text() }
      }),
    ]
    const answers = await Promise.all(requests)
    for (const answer of answers) {
      expect([200, 400, 401, 413]).toContain(answer.status)
      if (answer.status !== 200)
        expect(JSON.parse(answer.body)).toEqual({
          type: expect.any(String),
          code: expect.any(String),
          detail: expect.any(String),
        })
    }
    expect(answers.slice(hostile.length).every((a) => a.status === 200)).toBe(true)
    expect((await fetch(`${sluice.url}/_liveness`)).status).toBe(200)
    expect(sluice.child.exitCode).toBeNull()

    await eventually(
      async () => {
        const { body } = await sluice.api<{ results: { distinct_id: string }[] }>(
          `/api/projects/${sluice.credentials.project_id}/events/?event=fuzz_good&limit=1000`,
        )
        return new Set(body.results.map((e) => e.distinct_id)).size === good.length ? true : undefined
      },
      60_000,
      'every good event',
    )
  })
})
