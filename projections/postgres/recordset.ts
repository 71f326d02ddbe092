import { type RawBuilder, sql } from 'kysely'

/** A Postgres column type as written in a record definition. */
export type ColumnType =
  | 'uuid'
  | 'integer'
  | 'smallint'
  | 'bigint'
  | 'text'
  | 'boolean'
  | 'jsonb'
  | 'timestamptz'

/** Every field of a row, with the column type it is read as. */
export type Columns<Row> = { readonly [K in keyof Row]-?: ColumnType }

/**
 * Rows sent to the database as one JSON document (one parameter, parsed once as jsonb) and read
 * there as a record set with named, typed columns: `jsonb_to_recordset(…) AS r(name type, …)`.
 * The record definition and the column lists that go with it come from the same `columns` object,
 * which must name every field of `Row`, so a field can never land in another column.
 */
export function recordset<Row extends object>(
  rows: readonly Row[],
  columns: Columns<Row>,
): RawBuilder<unknown> {
  const definition = Object.entries(columns)
    .map(([name, type]) => `${name} ${type}`)
    .join(', ')
  return sql`jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(${sql.raw(definition)})`
}

/** The column names, for `INSERT INTO t (…) SELECT … FROM recordset(…)`. */
export function columnNames<Row>(columns: Columns<Row>, prefix = ''): RawBuilder<unknown> {
  return sql.raw(
    Object.keys(columns)
      .map((name) => `${prefix}${name}`)
      .join(', '),
  )
}
