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
 * there as a record set `r` with named, typed columns. On the wire each row is an array in the
 * order of `columns` (a third smaller than objects, and cheaper for the server to take apart); the
 * positions and the names that read them both come from that one object, which must name every
 * field of `Row`, so a field can never land in another column.
 */
export function recordset<Row extends object>(
  rows: readonly Row[],
  columns: Columns<Row>,
): RawBuilder<unknown> {
  const names = Object.keys(columns) as (keyof Row & string)[]
  const fields = names
    .map((name, i) => {
      const type = columns[name]
      return type === 'jsonb' ? `e->${i} AS ${name}` : `(e->>${i})::${type} AS ${name}`
    })
    .join(', ')
  const document = JSON.stringify(rows.map((row) => names.map((name) => row[name])))
  return sql`(SELECT ${sql.raw(fields)} FROM jsonb_array_elements(${document}::jsonb) AS e) AS r`
}

/** The column names, for `INSERT INTO t (…) SELECT … FROM recordset(…)`. */
export function columnNames<Row>(columns: Columns<Row>, prefix = ''): RawBuilder<unknown> {
  return sql.raw(
    Object.keys(columns)
      .map((name) => `${prefix}${name}`)
      .join(', '),
  )
}
