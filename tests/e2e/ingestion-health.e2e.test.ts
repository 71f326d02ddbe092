import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createEmbeddedLog } from '../../adapters/log/embedded/embedded-log.ts'
import type { IngestionStatus } from '../../commands/status/ingestion-status.ts'
import type { CaptureCommand } from '../../schema/command.ts'
import { Topics } from '../../schema/topics.ts'
import { eventually, type SluiceProcess, sluiceCli, startSluiceProcess } from '../support/sluice-process.ts'

type Person = { uuid: string; distinct_ids: string[]; is_identified: boolean }
type ProjectLetter = {
  id: string
  step: string
  code: string
  event_uuid: string
  distinct_id: string
  replayed_at: string | null
}
type ListedLetter = { id: string; step: string; code: string; replayedAt: string | null }

async function capture(sluice: SluiceProcess, batch: object[]) {
  const response = await fetch(`${sluice.url}/batch/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ api_key: sluice.credentials.project_token, batch }),
  })
  expect(response.status).toBe(200)
}

const personOf = (sluice: SluiceProcess, distinctId: string) =>
  sluice.api<{ results: Person[] }>(
    `/api/projects/${sluice.credentials.project_id}/persons/?distinct_id=${distinctId}`,
  )

describe('ingestion never stalls, and the operator sees it while sluice runs', () => {
  let sluice: SluiceProcess | undefined
  let dataDir: string | undefined
  afterAll(async () => {
    await sluice?.stop()
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  it('merges two identified persons with $merge_dangerously, batch after batch, and every partition moves on', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sluice-stall-'))
    sluice = await startSluiceProcess({ dataDir })
    const running = sluice
    // the report that found the stall: three requests, each its own batch, a second apart
    await capture(running, [
      { event: '$identify', distinct_id: 'u1', properties: { $anon_distinct_id: 'a1' } },
    ])
    await new Promise((resolve) => setTimeout(resolve, 1000))
    await capture(running, [
      { event: '$identify', distinct_id: 'u2', properties: { $anon_distinct_id: 'a2' } },
    ])
    await new Promise((resolve) => setTimeout(resolve, 1000))
    await capture(running, [{ event: '$merge_dangerously', distinct_id: 'u2', properties: { alias: 'u1' } }])
    // and events after it, on every partition
    await capture(
      running,
      Array.from({ length: 20 }, (_, i) => ({ event: 'after', distinct_id: `later-${i}` })),
    )

    const merged = await eventually(
      async () => {
        const { body } = await personOf(running, 'a1')
        const person = body.results[0]
        return person?.distinct_ids.length === 4 ? person : undefined
      },
      30_000,
      'the merge to be visible',
      running.output,
    )
    expect(merged.distinct_ids.sort()).toEqual(['a1', 'a2', 'u1', 'u2'])
    expect(merged.is_identified).toBe(true)
    await eventually(async () =>
      (await personOf(running, 'later-19')).body.results.length === 1 ? true : undefined,
    )

    // sluice status, asked of the running process: everything consumed, nothing stuck
    const status = await eventually(async () => {
      const { stdout } = await sluiceCli(['status', '--json', '--data-dir', running.dataDir])
      const parsed = JSON.parse(stdout) as IngestionStatus
      return parsed.consumers.every((c) => c.lag === 0) ? parsed : undefined
    })
    expect(status.stuck).toBe(false)
    expect(status.capture_saturated).toBe(false)
    expect(status.roles).toEqual(['capture', 'ingest', 'project', 'api'])
    expect(status.consumers.filter((c) => c.group === 'ingest').map((c) => c.topic)).toContain(
      Topics.commands,
    )
    expect(status.consumers.some((c) => c.group === 'clickhouse-projector')).toBe(true)
    const human = await sluiceCli(['status', '--data-dir', running.dataDir])
    expect(human.stdout).toContain(`sluice at ${running.url}`)
    expect(human.stdout).toMatch(/ingest\s+events_plugin_ingestion\s+0\s+\d+\s+\d+\s+0\s+ok/)

    const api = await running.api<IngestionStatus>('/api/ingestion_status/')
    expect(api.status).toBe(200)
    expect(api.body.consumers.length).toBe(status.consumers.length)
    const metrics = await (await fetch(`${running.url}/metrics`)).text()
    expect(metrics).toMatch(
      /sluice_consumer_lag_messages\{group="ingest",topic="events_plugin_ingestion",partition="0"\} 0/,
    )
    expect(metrics).toMatch(
      /sluice_consumer_failures_total\{group="clickhouse-projector",topic="clickhouse_events_json",partition="0"\} 0/,
    )
    // the batch timings of both consumers, and the rows the projector inserted
    expect(metrics).toMatch(/sluice_ingest_batch_seconds_count [1-9]/)
    expect(metrics).toMatch(/sluice_projection_batch_seconds_count\{topic="clickhouse_events_json"\} [1-9]/)
    expect(metrics).toMatch(/sluice_projected_rows_total\{topic="clickhouse_events_json"\} [1-9]/)
    expect((await fetch(`${running.url}/_readiness`)).status).toBe(200)
  })

  it('sets aside poison events the log holds, moves on, and lists and replays them while sluice runs', async () => {
    const first = sluice!
    await first.stop()
    const { stdout: other } = await sluiceCli([
      'projects',
      'create',
      '--name',
      'other',
      '--json',
      '--data-dir',
      dataDir!,
    ])
    const otherKey = JSON.parse(other) as { personal_api_key: string; project_id: number }
    // what another writer or an older release may have left in the log: one the database refuses,
    // one the domain throws on, each among good events of the same partition
    const log = createEmbeddedLog({ path: join(dataDir!, 'log') })
    const token = first.credentials.project_token
    let n = 0
    const command = (distinctId: string, properties: string): CaptureCommand => {
      n++
      return {
        uuid: `0190f0a0-0000-7000-8000-${(0xe2e000 + n).toString(16).padStart(12, '0')}`,
        distinct_id: distinctId,
        ip: null,
        data: `{"event":"poisoned","distinct_id":${JSON.stringify(distinctId)},"properties":${properties}}`,
        now: new Date().toISOString(),
        token,
        event: 'poisoned',
        timestamp: new Date().toISOString(),
      }
    }
    const deep = `${'['.repeat(6000)}${']'.repeat(6000)}`
    const commands = [
      command('victim', '{"$set":{"deep":[]}}'),
      command('good-1', '{}'),
      command('refused', '{"$set":{"bad":"\\ud800"}}'),
      command('victim', `{"$set":{"deep":${deep}}}`),
      command('good-2', '{}'),
    ]
    await log.append(
      Topics.commands,
      commands.map((c) => ({ key: `${token}:same-partition`, value: JSON.stringify(c) })),
    )
    await log.close()

    sluice = await startSluiceProcess({ dataDir: dataDir!, credentials: first.credentials })
    const running = sluice
    await eventually(async () =>
      (await personOf(running, 'good-2')).body.results.length === 1 ? true : undefined,
    )

    // the CLI lists them through the running process, which holds the data dir
    const letters = await eventually(async () => {
      const { stdout } = await sluiceCli(['dlq', 'list', '--json', '--data-dir', running.dataDir])
      const listed = JSON.parse(stdout) as ListedLetter[]
      return listed.length === 2 ? listed : undefined
    })
    expect(letters.map((l) => [l.step, l.code]).sort()).toEqual([
      ['apply', 'database_refused'],
      ['decide', 'decide_failed'],
    ])
    const { stdout: statusText } = await sluiceCli(['status', '--data-dir', running.dataDir])
    expect(statusText).toContain('dead letters: 2 (2 not replayed)')
    expect(statusText).toContain('apply database_refused: 1')

    // the project's own API shows them; another project's key sees none of them
    const own = await running.api<{ results: ProjectLetter[] }>(
      `/api/projects/${running.credentials.project_id}/dead_letters/`,
    )
    expect(own.body.results.map((l) => l.distinct_id).sort()).toEqual(['refused', 'victim'])
    const theirs = await fetch(`${running.url}/api/projects/${otherKey.project_id}/dead_letters/`, {
      headers: { authorization: `Bearer ${otherKey.personal_api_key}` },
    })
    expect(((await theirs.json()) as { results: unknown[] }).results).toEqual([])
    const forbidden = await fetch(
      `${running.url}/api/projects/${running.credentials.project_id}/dead_letters/`,
      {
        headers: { authorization: `Bearer ${otherKey.personal_api_key}` },
      },
    )
    expect(forbidden.status).toBe(403)

    // replayed from the API: appended again, they fail again and come back as new letters
    const replayed = await running.api<{ replayed: string[] }>(
      `/api/projects/${running.credentials.project_id}/dead_letters/replay/`,
      { method: 'POST', body: '{}' },
    )
    expect(replayed.body.replayed.sort()).toEqual(letters.map((l) => l.id).sort())
    const after = await eventually(async () => {
      const { stdout } = await sluiceCli(['dlq', 'list', '--json', '--data-dir', running.dataDir])
      const listed = JSON.parse(stdout) as ListedLetter[]
      return listed.length === 4 ? listed : undefined
    })
    expect(
      after
        .filter((l) => l.replayedAt !== null)
        .map((l) => l.id)
        .sort(),
    ).toEqual(letters.map((l) => l.id).sort())
    const { stdout: replayAll } = await sluiceCli(['dlq', 'replay', '--data-dir', running.dataDir])
    expect(replayAll).toContain('Replayed 2 dead letters into events_plugin_ingestion')
  })
})
