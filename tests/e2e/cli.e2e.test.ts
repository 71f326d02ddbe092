import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createEmbeddedLog } from '../../adapters/log/embedded/embedded-log.ts'
import { embeddedPaths, topicSpecs } from '../../adapters/runtime/backends.ts'
import { resolveConfig } from '../../adapters/runtime/config.ts'
import { Topics } from '../../schema/topics.ts'
import {
  type Credentials,
  eventually,
  type SluiceProcess,
  sluiceCli,
  startSluiceProcess,
} from '../support/sluice-process.ts'

describe('the sluice command line', () => {
  const dirs: string[] = []
  let running: SluiceProcess | undefined
  afterAll(async () => {
    await running?.stop()
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
  })

  it('init is idempotent and projects create gives each project its own credentials', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sluice-cli-'))
    dirs.push(dataDir)
    const first = JSON.parse(
      (await sluiceCli(['init', '--json', '--data-dir', dataDir])).stdout,
    ) as Credentials
    expect(first).toMatchObject({
      project_id: 1,
      project_token: expect.stringMatching(/^phc_\w{43}$/),
      personal_api_key: expect.stringMatching(/^phx_\w{43}$/),
    })
    const again = JSON.parse(
      (await sluiceCli(['init', '--json', '--data-dir', dataDir])).stdout,
    ) as Credentials
    expect(again).toEqual(first)
    const second = JSON.parse(
      (await sluiceCli(['projects', 'create', '--name', 'Shop', '--json', '--data-dir', dataDir])).stdout,
    ) as Credentials
    expect(second.project_id).toBe(2)
    expect(second.project_token).not.toBe(first.project_token)
    expect(second.personal_api_key).not.toBe(first.personal_api_key)

    // the second project's key reads only the second project
    running = await startSluiceProcess({ dataDir })
    const own = await fetch(`${running.url}/api/projects/2/`, {
      headers: { authorization: `Bearer ${second.personal_api_key}` },
    })
    expect(own.status).toBe(200)
    const other = await fetch(`${running.url}/api/projects/1/events/`, {
      headers: { authorization: `Bearer ${second.personal_api_key}` },
    })
    expect(other.status).toBe(403)
  })

  it('refuses a second process on a data dir in use, naming the holder', async () => {
    if (!running) throw new Error('the previous test starts sluice')
    const attempt = sluiceCli(['start', '--data-dir', running.dataDir, '--port', '0'])
    await expect(attempt).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(new RegExp(`in use by process ${running.child.pid}.*sluice start`)),
    })
  })

  it('dlq list shows what ingest could not process and why; dlq replay sends it back', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sluice-dlq-'))
    dirs.push(dataDir)
    await sluiceCli(['init', '--data-dir', dataDir])
    // a command no capture would write: appended straight into the stopped data dir's log
    const log = createEmbeddedLog({ path: embeddedPaths(dataDir).log })
    await log.ensureTopics(topicSpecs(resolveConfig({ dataDir })))
    await log.append(Topics.commands, [{ key: null, value: '{"broken": ' }])
    await log.close()
    const sluice = await startSluiceProcess({ dataDir })
    await eventually(async () => {
      const metrics = await (await fetch(`${sluice.url}/metrics`)).text()
      return /outcome="dead_lettered"\} 1/.test(metrics) ? true : undefined
    }, 30_000)
    await sluice.stop()

    const list = async () =>
      JSON.parse((await sluiceCli(['dlq', 'list', '--json', '--data-dir', dataDir])).stdout) as {
        id: string
        step: string
        reason: string
        replays: number
      }[]
    const [letter, ...others] = await list()
    expect(others).toEqual([])
    expect(letter).toMatchObject({ step: 'parse', replays: 0, reason: expect.stringContaining('not JSON') })
    const human = (await sluiceCli(['dlq', 'list', '--data-dir', dataDir])).stdout
    expect(human).toContain('1 dead letters, 1 not replayed.')

    const replay = await sluiceCli(['dlq', 'replay', '--data-dir', dataDir])
    expect(replay.stdout).toContain('Replayed 1 dead letters into events_plugin_ingestion')
    expect((await list())[0]).toMatchObject({ id: letter?.id, replays: 1 })
    expect((await sluiceCli(['dlq', 'replay', '--data-dir', dataDir])).stdout).toContain('Nothing to replay')
    await expect(sluiceCli(['dlq', 'replay', '--id', 'nope', '--data-dir', dataDir])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('no letter nope'),
    })
  })

  it('explains a bad option instead of starting', async () => {
    await expect(sluiceCli(['start', '--roles', 'capture,indexer'])).rejects.toMatchObject({
      stderr: expect.stringContaining('unknown role "indexer"'),
    })
  })
})
