/**
 * The two kinds of failure a consumer meets (docs/architecture.md, "Failures"), told apart by what they
 * are: a dependency that is away is waited for without end; anything else is a property of the
 * input and is set aside (dead letter queue) so the partition moves on.
 */
export type Dependency = 'postgres' | 'log' | 'clickhouse'

/**
 * A database, log or ClickHouse that cannot be reached or cannot take writes right now (refused
 * connection, shutdown, disk full). Retrying the same input later succeeds once it is back.
 */
export class DependencyUnavailableError extends Error {
  override readonly name: string = 'DependencyUnavailableError'
  constructor(
    readonly dependency: Dependency,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options)
  }
}

export function isDependencyUnavailable(error: unknown): error is DependencyUnavailableError {
  return error instanceof DependencyUnavailableError
}

/**
 * How a failure goes into a log line: a dependency that is away is expected, and its message says
 * all there is (no stack trace); anything else is logged whole.
 */
export function logFieldsOf(error: unknown): { error: string } | { err: unknown } {
  return isDependencyUnavailable(error) ? { error: error.message } : { err: error }
}

/**
 * The database was migrated by a newer sluice than this one: this release does not know its tables
 * and must not write to them.
 */
export class NewerSchemaError extends Error {
  override readonly name = 'NewerSchemaError'
  constructor(
    readonly store: 'PostgreSQL' | 'ClickHouse',
    readonly found: number,
    readonly known: number,
  ) {
    super(`the ${store} schema is at version ${found}, newer than this sluice knows (${known})`)
  }
}
