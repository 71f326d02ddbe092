/**
 * Why a /flags or /decide request was refused. The codes are capture's, with the same meaning: each
 * is an entry of the HTTP error catalogue (adapters/http/errors.ts), which gives the status.
 */
export type FlagsRequestErrorCode =
  | 'invalid_payload'
  | 'missing_token'
  | 'missing_distinct_id'
  | 'payload_too_large'

export class FlagsRequestError extends Error {
  override readonly name = 'FlagsRequestError'
  constructor(
    readonly code: FlagsRequestErrorCode,
    readonly detail: string,
  ) {
    super(detail)
  }
}

/** A flag definition the API was given breaks PostHog's rules (each problem is one sentence). */
export class InvalidFlagError extends Error {
  override readonly name = 'InvalidFlagError'
  constructor(readonly problems: string[]) {
    super(`The feature flag is not valid: ${problems.join('; ')}.`)
  }
}

/** A project's flag definitions could not be read (and none were read before). */
export class FlagDefinitionsUnavailableError extends Error {
  override readonly name = 'FlagDefinitionsUnavailableError'
  constructor(
    readonly teamId: number,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? cause.message : String(cause)
    super(`the feature flags of project ${teamId} cannot be read: ${why}`, { cause })
  }
}
