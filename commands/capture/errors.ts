/**
 * Why capture refuses a request. Each code is an entry of the HTTP error catalogue
 * (adapters/http/errors.ts), which gives it the status an SDK acts on.
 */
export type CaptureErrorCode =
  | 'no_data'
  | 'invalid_payload'
  | 'invalid_encoding'
  | 'invalid_json'
  | 'no_events'
  | 'missing_event_name'
  | 'missing_distinct_id'
  | 'invalid_uuid'
  | 'missing_token'
  | 'invalid_token'
  | 'multiple_tokens'
  | 'payload_too_large'

export class CaptureError extends Error {
  override readonly name = 'CaptureError'
  constructor(
    readonly code: CaptureErrorCode,
    readonly detail: string,
  ) {
    super(detail)
  }
}
