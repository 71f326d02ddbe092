import type { DatabaseConnection, Dialect, Driver } from 'kysely'
import { DependencyUnavailableError } from '../../ports/failures.ts'
import { classifyDatabaseError } from '../../projections/postgres/database-errors.ts'

/**
 * Wraps a kysely dialect so that every failure meaning "the database is away" — a refused or
 * broken connection, a server shutting down, a full disk — reaches the caller as a
 * DependencyUnavailableError, whichever query, transaction step or pool operation met it. Callers
 * then tell waiting from setting aside by type alone (docs/architecture.md, "Failures").
 */
export function withTypedFailures(dialect: Dialect): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createDriver: () => typedDriver(dialect.createDriver()),
  }
}

function typedDriver(driver: Driver): Driver {
  const typed: Driver = {
    init: (options) => typedFailure(() => driver.init(options)),
    acquireConnection: async (options) =>
      typedConnection(await typedFailure(() => driver.acquireConnection(options))),
    beginTransaction: (connection, settings) =>
      typedFailure(() => driver.beginTransaction(inner(connection), settings)),
    commitTransaction: (connection) => typedFailure(() => driver.commitTransaction(inner(connection))),
    rollbackTransaction: (connection) => typedFailure(() => driver.rollbackTransaction(inner(connection))),
    releaseConnection: (connection, options) => driver.releaseConnection(inner(connection), options),
    destroy: (options) => driver.destroy(options),
  }
  if (driver.savepoint) {
    const savepoint = driver.savepoint.bind(driver)
    typed.savepoint = (connection, name, compile) =>
      typedFailure(() => savepoint(inner(connection), name, compile))
  }
  if (driver.rollbackToSavepoint) {
    const rollbackTo = driver.rollbackToSavepoint.bind(driver)
    typed.rollbackToSavepoint = (connection, name, compile) =>
      typedFailure(() => rollbackTo(inner(connection), name, compile))
  }
  if (driver.releaseSavepoint) {
    const release = driver.releaseSavepoint.bind(driver)
    typed.releaseSavepoint = (connection, name, compile) =>
      typedFailure(() => release(inner(connection), name, compile))
  }
  return typed
}

// The driver's transaction methods expect the connection it handed out, not our wrapper.
const innerConnections = new WeakMap<DatabaseConnection, DatabaseConnection>()
const inner = (connection: DatabaseConnection) => innerConnections.get(connection) ?? connection

function typedConnection(connection: DatabaseConnection): DatabaseConnection {
  const typed: DatabaseConnection = {
    executeQuery: (query, options) => typedFailure(() => connection.executeQuery(query, options)),
    async *streamQuery(query, chunkSize, options) {
      try {
        yield* connection.streamQuery(query, chunkSize, options)
      } catch (error) {
        throw asTypedFailure(error)
      }
    },
  }
  innerConnections.set(typed, connection)
  return typed
}

async function typedFailure<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    throw asTypedFailure(error)
  }
}

function asTypedFailure(error: unknown): unknown {
  if (error instanceof DependencyUnavailableError || classifyDatabaseError(error) !== 'unavailable')
    return error
  const detail = error instanceof Error ? error.message : String(error)
  return new DependencyUnavailableError('postgres', `the database is unavailable: ${detail}`, {
    cause: error,
  })
}
