import { Readable } from 'node:stream'
import { type ClickHouseClient, ClickHouseError, createClient, parseError } from '@clickhouse/client'
import { createChdbConnection } from 'chdb/connection'
import { type ClickHouse, ClickHouseRejectedError } from '../../ports/clickhouse.ts'
import { DependencyUnavailableError } from '../../ports/failures.ts'

export type ClickHouseConfig =
  | { kind: 'chdb'; path: string }
  | { kind: 'http'; url: string; database?: string }

export class ChdbPathInUseError extends Error {
  override readonly name = 'ChdbPathInUseError'
  constructor(
    readonly openPath: string,
    readonly requestedPath: string,
  ) {
    super(
      `chDB binds one data directory per process: ${openPath} is open, ${requestedPath} cannot be opened beside it`,
    )
  }
}

type ClientConnection = NonNullable<Parameters<typeof createClient>[0]>['connection']

let openChdbPath: string | null = null

const settings = { date_time_input_format: 'best_effort' as const }

/**
 * The ClickHouse port over @clickhouse/client: chDB in-process (embedded) or a server over HTTP.
 * Only the connection differs; every query above is the same.
 */
export function createClickHouse(config: ClickHouseConfig): ClickHouse {
  let client: ClickHouseClient
  let insertRows: (table: string, rows: Uint8Array) => Promise<unknown>
  if (config.kind === 'chdb') {
    if (openChdbPath !== null && openChdbPath !== config.path)
      throw new ChdbPathInUseError(openChdbPath, config.path)
    openChdbPath = config.path
    // chdb types its connection against @clickhouse/client-common's declarations, which the
    // client no longer re-exports; the runtime interface is the same (chdb's parity suite).
    const chdb = createChdbConnection({ path: config.path })
    client = createClient({ connection: chdb as unknown as ClientConnection })
    // The rows' bytes as they are, which chDB parses on its own threads: through the client's
    // connection they would be decoded to a string, appended to the statement and encoded again,
    // on the event loop (chDB's connection does no better).
    insertRows = (table, rows) =>
      chdb.chdb
        .rawInsert({ table, values: rows, format: 'JSONEachRow', settings })
        .catch((error: unknown) => {
          // chDB's insert error carries ClickHouse's message: parsed, it is the error a server
          // would answer with (its code and type), which tells refused rows from a server away
          throw error instanceof Error ? Object.assign(parseError(error.message), { cause: error }) : error
        })
  } else {
    client = createClient({ url: config.url, database: config.database, request_timeout: 60_000 })
    // the rows as the request's body, as the client's own inserts send them
    insertRows = async (table, rows) => {
      const { stream } = await client.exec({
        query: `INSERT INTO ${table} FORMAT JSONEachRow`,
        values: Readable.from([Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength)]),
        clickhouse_settings: settings,
      })
      // read to its end, so that the connection goes back to the client's pool
      for await (const _ of stream);
    }
  }
  return {
    async command(sql) {
      await client.command({ query: sql, clickhouse_settings: settings })
    },
    async insert(table, rows) {
      if (rows.length === 0) return
      await rejections(table, () =>
        client.insert({ table, values: [...rows], format: 'JSONEachRow', clickhouse_settings: settings }),
      )
    },
    async insertJsonEachRow(table, rows) {
      if (rows.length === 0) return
      await rejections(table, () => insertRows(table, rows))
    },
    async query<Row>(sql: string, params?: Record<string, unknown>) {
      const result = await client.query({ query: sql, format: 'JSONEachRow', query_params: params })
      return result.json<Row>()
    },
    async close() {
      await client.close()
      if (config.kind === 'chdb') openChdbPath = null
    },
  }
}

// Server errors that say the server cannot work now, not that the rows are wrong: the same insert
// succeeds once it can (disk space freed, memory or parts merged away, the server writable again).
const unavailableTypes = new Set([
  'NOT_ENOUGH_SPACE',
  'MEMORY_LIMIT_EXCEEDED',
  'CANNOT_ALLOCATE_MEMORY',
  'TOO_MANY_PARTS',
  'TOO_MANY_SIMULTANEOUS_QUERIES',
  'TIMEOUT_EXCEEDED',
  'SOCKET_TIMEOUT',
  'NETWORK_ERROR',
  'ALL_CONNECTION_TRIES_FAILED',
  'READONLY',
  'TABLE_IS_READ_ONLY',
  'CANNOT_WRITE_TO_FILE_DESCRIPTOR',
  'SYSTEM_ERROR',
])

/**
 * Server-side refusals of the rows become ClickHouseRejectedError (the rows are set aside); a
 * server that cannot work now, or cannot be reached, is a dependency the projector waits for.
 */
async function rejections(table: string, work: () => Promise<unknown>): Promise<void> {
  try {
    await work()
  } catch (error) {
    if (isServerError(error) && !unavailableTypes.has(error.type ?? ''))
      throw new ClickHouseRejectedError(error.message, error.code, { table, cause: error })
    const detail = error instanceof Error ? error.message : String(error)
    throw new DependencyUnavailableError('clickhouse', `ClickHouse is unavailable: ${detail}`, {
      cause: error,
    })
  }
}

// chdb raises the ClickHouseError of its own copy of client-common, which `instanceof` does not see.
function isServerError(error: unknown): error is ClickHouseError {
  return (
    error instanceof ClickHouseError ||
    (error instanceof Error && error.constructor.name === 'ClickHouseError' && 'code' in error)
  )
}

/**
 * One try to query the ClickHouse server of `url` (which also checks the credentials): a server
 * that cannot be reached is a DependencyUnavailableError, worth waiting for; a server that answers
 * with an error (a refused login) is raised as the client reports it.
 */
export async function reachClickHouse(url: string): Promise<void> {
  const client = createClient({ url, request_timeout: 5000 })
  try {
    await client.query({ query: 'SELECT 1', format: 'JSONEachRow' })
  } catch (error) {
    if (isServerError(error) && !unavailableTypes.has(error.type ?? '')) throw error
    throw new DependencyUnavailableError(
      'clickhouse',
      `ClickHouse is unavailable: ${(error as Error).message}`,
      {
        cause: error,
      },
    )
  } finally {
    await client.close()
  }
}
