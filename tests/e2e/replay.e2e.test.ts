import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { PostHog } from 'posthog-node'
import { afterAll, describe, expect, it } from 'vitest'
import { openPostgres } from '../../adapters/postgres/connect.ts'
import { eventually, type SluiceProcess, sluiceCli, startSluiceProcess } from '../support/sluice-process.ts'

/** Everything the Postgres projection holds, in a stable order (merge audit without its serial ids). */
async function snapshot(dataDir: string) {
  const db = await openPostgres({ kind: 'pglite', dataDir: join(dataDir, 'postgres') })
  try {
    const rows = async (query: ReturnType<typeof sql>) => (await query.execute(db)).rows
    return {
      persons: await rows(
        sql`SELECT uuid, team_id, created_at, properties, is_identified, version FROM persons ORDER BY uuid`,
      ),
      distinctIds: await rows(
        sql`SELECT team_id, distinct_id, person_uuid, version FROM person_distinct_ids ORDER BY team_id, distinct_id`,
      ),
      personless: await rows(
        sql`SELECT team_id, distinct_id, is_merged FROM personless_distinct_ids ORDER BY team_id, distinct_id`,
      ),
      groupTypes: await rows(sql`SELECT * FROM group_type_mappings ORDER BY team_id, group_type_index`),
      groups: await rows(sql`SELECT * FROM groups ORDER BY team_id, group_type_index, group_key`),
      merges: await rows(
        sql`SELECT kept_person_uuid, merged_person_uuid, distinct_ids, event_uuid, event, timestamp FROM person_merges ORDER BY event_uuid, merged_person_uuid`,
      ),
    }
  } finally {
    await db.destroy()
  }
}

describe('sluice replay rebuilds identical projections from the command log', () => {
  let sluice: SluiceProcess | undefined
  let dataDir: string | undefined
  afterAll(async () => {
    await sluice?.stop()
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  it('gives the same persons, ids, versions, groups and merge audit, and ClickHouse agrees', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sluice-replay-'))
    const first = await startSluiceProcess({ dataDir })
    sluice = first
    const posthog = new PostHog(first.credentials.project_token, {
      host: first.url,
      flushAt: 50,
      flushInterval: 0,
    })
    for (let i = 0; i < 30; i++) {
      posthog.capture({
        distinctId: `anon-${i}`,
        event: 'viewed',
        properties: { $set: { plan: 'free', n: i }, $set_once: { first: i } },
      })
      posthog.capture({
        distinctId: `visitor-${i}`,
        event: 'glanced',
        properties: { $process_person_profile: false },
      })
      // the identified side exists too, so identify merges two persons
      if (i % 3 === 0)
        posthog.capture({
          distinctId: `user-${i}`,
          event: 'logged_in',
          properties: { $set: { plan: 'pro' } },
        })
    }
    await posthog.flush()
    for (let i = 0; i < 30; i++) {
      if (i % 3 === 0)
        posthog.identify({
          distinctId: `user-${i}`,
          properties: { $anon_distinct_id: `anon-${i}`, email: `u${i}@x.io` },
        })
      if (i % 3 === 1) posthog.alias({ distinctId: `anon-${i}`, alias: `visitor-${i}` })
      if (i % 5 === 0)
        posthog.groupIdentify({ groupType: 'company', groupKey: `c${i % 2}`, properties: { size: i } })
      posthog.capture({
        distinctId: `anon-${i}`,
        event: 'bought',
        groups: { company: `c${i % 2}` },
        properties: { $unset: ['n'] },
      })
    }
    await posthog.shutdown()
    await eventually(
      async () => {
        const { body } = await first.api<{ results: unknown[] }>(
          `/api/projects/${first.credentials.project_id}/events/?event=bought&limit=1000`,
        )
        return body.results.length === 30 ? true : undefined
      },
      60_000,
      'the events',
    )
    // every consumer caught up: every fact projected, nothing left in flight
    await eventually(async () => {
      const { body } = await first.api<{ consumers: { lag: number | null }[] }>('/api/ingestion_status/')
      return body.consumers.every((c) => c.lag === 0) ? true : undefined
    })
    await first.stop()
    const before = await snapshot(first.dataDir)
    expect(before.merges.length).toBeGreaterThan(0)
    expect(before.groups.length).toBe(2)

    const { stdout } = await sluiceCli(['replay', '--data-dir', first.dataDir])
    expect(stdout).toMatch(/Replay done in [\d.]+ s: \d+ events ingested/)
    expect(await snapshot(first.dataDir)).toEqual(before)
    const verify = JSON.parse((await sluiceCli(['verify', '--json', '--data-dir', first.dataDir])).stdout)
    expect(verify).toMatchObject({ agree: true, differences: [] })

    sluice = await startSluiceProcess({ dataDir: first.dataDir })
    const again = sluice
    const { body } = await again.api<{ results: unknown[] }>(
      `/api/projects/${again.credentials.project_id}/events/?limit=1000`,
    )
    // viewed, glanced, bought per i; logged_in and $identify every 3rd; $create_alias every 3rd; $groupidentify every 5th
    expect(body.results).toHaveLength(30 * 3 + 10 + 10 + 10 + 6)
  })
})
