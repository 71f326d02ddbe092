/**
 * The ClickHouse port. One adapter, @clickhouse/client, with two connections: chDB in-process
 * (embedded) and HTTP (a server). Everything above speaks only this interface.
 */
export interface ClickHouse {
  command(sql: string): Promise<void>
  insert<Row extends object>(table: string, rows: readonly Row[]): Promise<void>
  /** Inserts rows already serialised as JSONEachRow (one JSON object per line), as UTF-8 bytes. */
  insertJsonEachRow(table: string, rows: Uint8Array): Promise<void>
  query<Row>(sql: string, params?: Record<string, unknown>): Promise<Row[]>
  close(): Promise<void>
}

/** ClickHouse refused the data itself (a server-side error), as opposed to being unreachable. */
export class ClickHouseRejectedError extends Error {
  override readonly name = 'ClickHouseRejectedError'
  constructor(
    message: string,
    readonly code: string,
    readonly context: { table?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: context.cause })
  }
}
