import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { isDependencyUnavailable } from '../../ports/failures.ts'

/**
 * One catalogue of the errors the HTTP API answers with, each with a stable code and status.
 * Every error body is `{"type", "code", "detail"}`, whatever raised it.
 */
export type ErrorType =
  | 'validation_error'
  | 'authentication_error'
  | 'permission_denied'
  | 'not_found'
  | 'server_error'
  | 'unavailable'

export class HttpError extends Error {
  override readonly name = 'HttpError'
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    readonly code: string,
    readonly detail: string,
  ) {
    super(detail)
  }
}

export const httpErrors = {
  missingApiKey: () =>
    new HttpError(
      401,
      'authentication_error',
      'auth/missing_api_key',
      'Send a personal API key as "Authorization: Bearer phx_…".',
    ),
  invalidApiKey: () =>
    new HttpError(401, 'authentication_error', 'auth/invalid_api_key', 'This personal API key is not valid.'),
  wrongProject: (id: string) =>
    new HttpError(
      403,
      'permission_denied',
      'auth/project_forbidden',
      `This personal API key has no access to project ${id}.`,
    ),
  notFound: (what: string) => new HttpError(404, 'not_found', 'not_found', `${what} not found.`),
  invalidInput: (detail: string) => new HttpError(400, 'validation_error', 'invalid_input', detail),
  unavailable: (detail: string) => new HttpError(503, 'unavailable', 'service_unavailable', detail),
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
      413,
      'validation_error',
      'payload_too_large',
      `The request body is larger than ${request.routeOptions.bodyLimit ?? 'the limit'} bytes.`,
    )
  }
  if (fastifyError.validation) return httpErrors.invalidInput(fastifyError.message ?? 'invalid request')
  if (
    typeof fastifyError.statusCode === 'number' &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    return new HttpError(
      fastifyError.statusCode,
      'validation_error',
      fastifyError.code ?? 'invalid_request',
      fastifyError.message ?? 'invalid request',
    )
  }
  return new HttpError(
    500,
    'server_error',
    'internal_error',
    'An internal error occurred; it has been logged.',
  )
}
