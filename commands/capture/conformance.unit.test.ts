import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { buildCaptureCommands } from './build-commands.ts'
import { decodeCaptureRequest } from './decode-request.ts'

interface RecordedRequest {
  path: string
  method: string
  content_type: string
  content_encoding: string
  ip: string
  now: string
  body: string
  output: {
    uuid: string
    distinct_id: string
    ip: string
    site_url: string
    data: string
    now: string
    sent_at: string
    token: string
  }[]
}

// Requests posthog-js really sent to PostHog, with what PostHog's capture made of them; where the
// file comes from and its licence: tests/fixtures/README.md.
const fixture = new URL('../../tests/fixtures/posthog-capture-requests.jsonl', import.meta.url)
const recordedSiteUrl = 'http://localhost:8000'
const cases: { name: string; request: RecordedRequest }[] = []
let pendingName = ''
for (const [index, line] of readFileSync(fixture, 'utf8').split('\n').entries()) {
  if (line.startsWith('#')) pendingName = line.replace(/^#+\s*/, '')
  else if (line.trim() !== '') {
    const request = JSON.parse(line) as RecordedRequest
    cases.push({ name: `${pendingName || `line ${index + 1}`}: ${request.method} ${request.path}`, request })
    pendingName = ''
  }
}

describe('capture conformance with PostHog on recorded posthog-js traffic', () => {
  it('has the recorded cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(14)
  })

  it.each(cases)('$name', ({ request }) => {
    const url = new URL(request.path, 'http://capture.invalid')
    const query = Object.fromEntries(url.searchParams)
    const decoded = decodeCaptureRequest({
      path: url.pathname,
      method: request.method === 'GET' ? 'GET' : 'POST',
      query,
      headers: {
        contentType: request.content_type || undefined,
        contentEncoding: request.content_encoding || undefined,
      },
      body: Buffer.from(request.body, 'base64'),
    })
    const { commands } = buildCaptureCommands(decoded, {
      now: new Date(request.now),
      ip: request.ip,
      newUuid: () => {
        throw new Error('every recorded event carries its uuid')
      },
      // Django put its own origin here (from the Host header, which the recording leaves out).
      siteUrl: recordedSiteUrl,
    })
    expect(commands).toHaveLength(request.output.length)
    for (const [i, expected] of request.output.entries()) {
      const command = commands[i]
      if (command === undefined) throw new Error(`no command ${i}`)
      expect(command.uuid).toBe(expected.uuid)
      expect(command.distinct_id).toBe(expected.distinct_id)
      expect(command.ip).toBe(expected.ip)
      expect(command.site_url).toBe(expected.site_url)
      expect(command.token).toBe(expected.token)
      // Same instants; Django printed microseconds and +00:00, sluice prints ISO 8601 with ms and Z.
      expect(command.now).toBe(new Date(expected.now).toISOString())
      expect(command.sent_at).toBe(new Date(expected.sent_at).toISOString())
      expect(JSON.parse(command.data)).toEqual(JSON.parse(expected.data))
      // Not in Django's message (its ingestion computed it later from the same fields): PostHog's
      // clock-skew correction by hand.
      const data = JSON.parse(expected.data) as { offset?: number; timestamp?: string }
      const receivedMs = Date.parse(command.now)
      const expectedMs =
        data.offset !== undefined
          ? receivedMs - data.offset
          : receivedMs + Date.parse(data.timestamp ?? '') - Date.parse(expected.sent_at)
      expect(command.timestamp).toBe(new Date(expectedMs).toISOString())
    }
  })
})
