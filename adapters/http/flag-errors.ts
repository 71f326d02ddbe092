import type { FlagsRequestError } from '../../commands/flags/errors.ts'
import { HttpError } from './errors.ts'

/** The flag API's and the flags endpoints' errors, each an entry of the catalogue in errors.ts. */
export const flagErrors = {
  invalidDefinition: (detail: string) => new HttpError('flags/invalid_definition', detail),
  keyTaken: (key: string) =>
    new HttpError('flags/key_taken', `There is already a feature flag with the key "${key}".`),
  flagNotFound: (id: number) => new HttpError('not_found', `Feature flag ${id} not found.`),
  unknownToken: () => new HttpError('invalid_token', 'No project has this project token (phc_…).'),
  missingToken: () =>
    new HttpError(
      'flags/token_parameter_missing',
      'Send the project token as ?token=phc_… (the personal API key goes in the Authorization header).',
    ),
  definitionsUnavailable: () =>
    new HttpError('service_unavailable', 'Feature flags cannot be read right now; retry shortly.'),
  request: (error: FlagsRequestError) => new HttpError(error.code, error.detail),
}
