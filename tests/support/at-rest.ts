import { readdir, readFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import pg from 'pg'
import type { Log } from '../../ports/log.ts'

/** For each text, the files under `dir` whose bytes hold it (texts found nowhere are left out). */
export async function filesHolding(dir: string, texts: readonly string[]): Promise<Record<string, string[]>> {
  const found: Record<string, string[]> = {}
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    const bytes = await readFile(path)
    for (const text of texts) if (bytes.includes(text)) found[text] = [...(found[text] ?? []), path]
  }
  return found
}

/** Every row of every table of a PostgreSQL database, as text — what a plain dump would hold. */
export async function postgresRowsAsText(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const tables = await client.query<{ name: string }>(
      "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'",
    )
    const rows: string[] = []
    for (const { name } of tables.rows) {
      const result = await client.query<{ row: string }>(`SELECT t::text AS row FROM ${name} t`)
      rows.push(`-- ${name}`, ...result.rows.map((r) => r.row))
    }
    return rows.join('\n')
  } finally {
    await client.end()
  }
}

/** Every record of the given topics, keys and headers included, as text. */
export async function logRecordsAsText(log: Log, topics: readonly string[]): Promise<string> {
  const records: string[] = []
  for (const topic of topics) {
    for (const [partition, end] of await log.endOffsets(topic)) {
      for (let offset = 0; offset < end; ) {
        const messages = await log.read(topic, partition, offset, 1000)
        if (messages.length === 0) break
        for (const m of messages) records.push(`${m.key} ${JSON.stringify(m.headers ?? {})} ${m.value}`)
        offset = (messages.at(-1)?.offset ?? offset) + 1
      }
    }
  }
  return records.join('\n')
}

/**
 * POSTs JSON the way a client on another address would: `localAddress` binds the socket to it
 * (any of 127.0.0.0/8 on loopback), so the server sees that address as the peer.
 */
export function postJson(
  url: string,
  body: unknown,
  options: { headers?: Record<string, string>; localAddress?: string } = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const sent = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...options.headers },
        localAddress: options.localAddress,
      },
      (response) => {
        response.resume()
        response.on('end', () => resolve(response.statusCode ?? 0))
      },
    )
    sent.on('error', reject)
    sent.end(JSON.stringify(body))
  })
}
