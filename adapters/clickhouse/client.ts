import { type ClickHouseClient, ClickHouseError, createClient } from '@clickhouse/client'
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

/**
 * The ClickHouse port over @clickhouse/client: chDB in-process (embedded) or a server over HTTP.
 * Only the connection differs; every query above is the same.
 */
export function createClickHouse(config: ClickHouseConfig): ClickHouse {
  let client: ClickHouseClient
  if (config.kind === 'chdb') {
    if (openChdbPath !== null && openChdbPath !== config.path)
      throw new ChdbPathInUseError(openChdbPath, config.path)
    openChdbPath = config.path
    // chdb types its connection against @clickhouse/client-common's declarations, which the
    // client no longer re-exports; the runtime interface is the same (chdb's parity suite).
    const connection = createChdbConnection({ path: config.path }) as unknown as ClientConnection
    client = createClient({ connection })
  } else {
    client = createClient({ url: config.url, database: config.database, request_timeout: 60_000 })
  }
  const settings = { date_time_input_format: 'best_effort' as const }
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
    async insertJsonEachRow(table, text) {
      if (text === '') return
      await rejections(table, () =>
        client.command({
          query: `INSERT INTO ${table} FORMAT JSONEachRow\n${text}`,
          clickhouse_settings: settings,
        }),
      )
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

/**
 * Server-side refusals become ClickHouseRejectedError (the rows are set aside); anything else means
 * ClickHouse could not be reached, and the projector waits for it.
 */
async function rejections(table: string, work: () => Promise<unknown>): Promise<void> {
  try {
    await work()
  } catch (error) {
    if (isServerError(error))
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
