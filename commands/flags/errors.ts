/** Why a /flags or /decide request was refused, with the status an SDK acts on (it retries only 5xx). */
export type FlagsRequestErrorCode =
  | 'invalid_payload'
  | 'missing_token'
  | 'missing_distinct_id'
  | 'payload_too_large'

const statusOf: Record<FlagsRequestErrorCode, 400 | 401 | 413> = {
  invalid_payload: 400,
  missing_token: 401,
  missing_distinct_id: 400,
  payload_too_large: 413,
}

export class FlagsRequestError extends Error {
  override readonly name = 'FlagsRequestError'
  readonly status: 400 | 401 | 413
  constructor(
    readonly code: FlagsRequestErrorCode,
    readonly detail: string,
  ) {
    super(detail)
    this.status = statusOf[code]
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
