/** Capture's error catalogue: each failure has a stable code and the status an SDK acts on. */
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

const statusOf: Record<CaptureErrorCode, 400 | 401 | 413> = {
  no_data: 400,
  invalid_payload: 400,
  invalid_encoding: 400,
  invalid_json: 400,
  no_events: 400,
  missing_event_name: 400,
  missing_distinct_id: 400,
  invalid_uuid: 400,
  missing_token: 401,
  invalid_token: 401,
  multiple_tokens: 400,
  payload_too_large: 413,
}

export class CaptureError extends Error {
  override readonly name = 'CaptureError'
  readonly status: 400 | 401 | 413
  constructor(
    readonly code: CaptureErrorCode,
    readonly detail: string,
  ) {
    super(detail)
    this.status = statusOf[code]
  }
}
