import { errorCatalogue } from '../../../adapters/http/errors.ts'
import { buildCaptureCommands, type CaptureCommands, type CaptureContext } from '../build-commands.ts'
import { type CaptureHttpRequest, decodeCaptureRequest } from '../decode-request.ts'
import { CaptureError } from '../errors.ts'

export const testToken = 'phc_capture_test'
export const testNow = new Date('2026-11-25T12:00:00.000Z')

export type TestRequest = Partial<Omit<CaptureHttpRequest, 'body'>> & { body?: Buffer | string }

/** A context whose minted uuids count up, so a test can tell minted from sent ones. */
export function testContext(overrides: Partial<CaptureContext> = {}): CaptureContext {
  let minted = 0
  return {
    now: testNow,
    ip: '203.0.113.7',
    newUuid: () => `0190f0a0-0000-7000-8000-${(++minted).toString(16).padStart(12, '0')}`,
    ...overrides,
  }
}

export function request(partial: TestRequest): CaptureHttpRequest {
  const body = partial.body ?? Buffer.alloc(0)
  return {
    path: '/e/',
    method: 'POST',
    query: {},
    headers: {},
    ...partial,
    body: typeof body === 'string' ? Buffer.from(body) : body,
  }
}

/** Decode and build, as the HTTP route does. */
export function capture(partial: TestRequest, context: CaptureContext = testContext()): CaptureCommands {
  return buildCaptureCommands(decodeCaptureRequest(request(partial)), context)
}

/** What a refused request is answered with: the CaptureError's code and detail, and the catalogue's status. */
export interface Refusal {
  code: CaptureError['code']
  detail: string
  status: number
}

/** How a request is refused; any other outcome fails the test. */
export function refusal(partial: TestRequest, context: CaptureContext = testContext()): Refusal {
  try {
    capture(partial, context)
  } catch (error) {
    if (error instanceof CaptureError)
      return { code: error.code, detail: error.detail, status: errorCatalogue[error.code].status }
    throw error
  }
  throw new Error('expected the request to be refused with a CaptureError')
}

export const json = (value: unknown): string => JSON.stringify(value)

export const batchBody = (events: object[], extra: Record<string, unknown> = {}): string =>
  json({ api_key: testToken, batch: events, sent_at: testNow.toISOString(), ...extra })
