import type { FlagsRequestError } from '../../commands/flags/errors.ts'
import { HttpError } from './errors.ts'

/** The flag API's and the flags endpoints' entries of the error catalogue (errors.ts has the rest). */
export const flagErrors = {
  invalidDefinition: (detail: string) =>
    new HttpError(400, 'validation_error', 'flags/invalid_definition', detail),
  keyTaken: (key: string) =>
    new HttpError(
      400,
      'validation_error',
      'flags/key_taken',
      `There is already a feature flag with the key "${key}".`,
    ),
  flagNotFound: (id: number) => new HttpError(404, 'not_found', 'not_found', `Feature flag ${id} not found.`),
  unknownToken: () =>
    new HttpError(401, 'authentication_error', 'invalid_token', 'No project has this project token (phc_…).'),
  missingToken: () =>
    new HttpError(
      400,
      'validation_error',
      'flags/token_parameter_missing',
      'Send the project token as ?token=phc_… (the personal API key goes in the Authorization header).',
    ),
  definitionsUnavailable: () =>
    new HttpError(
      503,
      'unavailable',
      'service_unavailable',
      'Feature flags cannot be read right now; retry shortly.',
    ),
  request: (error: FlagsRequestError) =>
    new HttpError(
      error.status,
      error.status === 401 ? 'authentication_error' : 'validation_error',
      `flags/${error.code}`,
      error.detail,
    ),
}
