import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { isDependencyUnavailable } from '../../ports/failures.ts'

export type ErrorType =
  | 'validation_error'
  | 'authentication_error'
  | 'permission_denied'
  | 'not_found'
  | 'server_error'
  | 'unavailable'

interface CatalogueEntry {
  status: 400 | 401 | 403 | 404 | 413 | 415 | 500 | 503
  type: ErrorType
  /** When it is answered; the README's error table says the same. */
  when: string
}

/**
 * Every error the HTTP face answers with, by its stable code: the status the SDKs act on (they
 * retry 408/429/5xx and drop the request on any other 4xx, so 4xx is only for what can never
 * succeed) and the body's `type`. Every error body is `{"type", "code", "detail"}`. Capture's and
 * the flags endpoints' refusals (commands/capture/errors.ts, commands/flags/errors.ts) name codes of
 * this catalogue.
 */
export const errorCatalogue = {
  no_data: {
    status: 400,
    type: 'validation_error',
    when: 'a capture request has no body and no data= field',
  },
  invalid_payload: {
    status: 400,
    type: 'validation_error',
    when: 'the body is not an event, a list of events, a batch or a flags request',
  },
  invalid_encoding: {
    status: 400,
    type: 'validation_error',
    when: 'the body is not valid UTF-8, gzip, base64 or lz-string as it claims or looks',
  },
  invalid_json: {
    status: 400,
    type: 'validation_error',
    when: 'the body is not JSON, or nested deeper than 128',
  },
  no_events: { status: 400, type: 'validation_error', when: 'a capture request holds no event' },
  missing_event_name: { status: 400, type: 'validation_error', when: 'an event has no name' },
  missing_distinct_id: {
    status: 400,
    type: 'validation_error',
    when: 'an event or flags request has no distinct id',
  },
  invalid_uuid: { status: 400, type: 'validation_error', when: 'an event uuid is not a UUID' },
  multiple_tokens: {
    status: 400,
    type: 'validation_error',
    when: 'the events of one request carry different tokens',
  },
  missing_token: {
    status: 401,
    type: 'authentication_error',
    when: 'a capture or flags request has no project token',
  },
  invalid_token: {
    status: 401,
    type: 'authentication_error',
    when: 'the project token is malformed, or no project has it',
  },
  payload_too_large: {
    status: 413,
    type: 'validation_error',
    when: 'a request or one event is over the size limit',
  },
  log_unavailable: {
    status: 503,
    type: 'unavailable',
    when: 'the command log cannot take the events now (broker away, disk full); nothing was accepted',
  },
  'auth/missing_api_key': {
    status: 401,
    type: 'authentication_error',
    when: 'an API request has no `Authorization: Bearer phx_…`',
  },
  'auth/invalid_api_key': {
    status: 401,
    type: 'authentication_error',
    when: 'no project has this personal API key',
  },
  'auth/project_forbidden': {
    status: 403,
    type: 'permission_denied',
    when: 'the personal API key belongs to another project',
  },
  'flags/invalid_definition': {
    status: 400,
    type: 'validation_error',
    when: "a flag definition breaks PostHog's rules",
  },
  'flags/key_taken': {
    status: 400,
    type: 'validation_error',
    when: 'another flag of the project has this key',
  },
  'flags/token_parameter_missing': {
    status: 400,
    type: 'validation_error',
    when: '/flags/definitions was asked without ?token=',
  },
  invalid_input: {
    status: 400,
    type: 'validation_error',
    when: 'a path, query or body does not match what the route takes',
  },
  unsupported_media_type: {
    status: 415,
    type: 'validation_error',
    when: 'an API request body is not JSON',
  },
  not_found: {
    status: 404,
    type: 'not_found',
    when: 'no such route, project, person, flag, app or dead letter',
  },
  service_unavailable: {
    status: 503,
    type: 'unavailable',
    when: 'something sluice needs (its Postgres, log or ClickHouse) is away; retry',
  },
  internal_error: { status: 500, type: 'server_error', when: 'a defect; it is logged with its stack trace' },
} as const satisfies Record<string, CatalogueEntry>

export type ErrorCode = keyof typeof errorCatalogue

export class HttpError extends Error {
  override readonly name = 'HttpError'
  readonly status: CatalogueEntry['status']
  readonly type: ErrorType
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
  ) {
    super(detail)
    const entry: CatalogueEntry = errorCatalogue[code]
    this.status = entry.status
    this.type = entry.type
  }
}

export const httpErrors = {
  missingApiKey: () =>
    new HttpError('auth/missing_api_key', 'Send a personal API key as "Authorization: Bearer phx_…".'),
  invalidApiKey: () => new HttpError('auth/invalid_api_key', 'This personal API key is not valid.'),
  wrongProject: (id: string) =>
    new HttpError('auth/project_forbidden', `This personal API key has no access to project ${id}.`),
  notFound: (what: string) => new HttpError('not_found', `${what} not found.`),
  invalidInput: (detail: string) => new HttpError('invalid_input', detail),
  unavailable: (detail: string) => new HttpError('service_unavailable', detail),
}

export function sendError(reply: FastifyReply, error: HttpError) {
  return reply.code(error.status).send({ type: error.type, code: error.code, detail: error.detail })
}

/** Maps anything thrown in a route to the JSON error shape; nothing a client sends can crash the process. */
export function toHttpError(error: unknown, request: FastifyRequest): HttpError {
  if (error instanceof HttpError) return error
  if (isDependencyUnavailable(error))
    return httpErrors.unavailable(`sluice cannot reach its ${error.dependency} right now; retry shortly.`)
  const fastifyError = error as Partial<FastifyError>
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new HttpError(
      'payload_too_large',
      `The request body is larger than ${request.routeOptions.bodyLimit ?? 'the limit'} bytes.`,
    )
  }
  if (fastifyError.statusCode === 415)
    return new HttpError('unsupported_media_type', fastifyError.message ?? 'the body is not JSON')
  if (
    fastifyError.validation ||
    (typeof fastifyError.statusCode === 'number' &&
      fastifyError.statusCode >= 400 &&
      fastifyError.statusCode < 500)
  )
    return httpErrors.invalidInput(fastifyError.message ?? 'invalid request')
  return new HttpError('internal_error', 'An internal error occurred; it has been logged.')
}
