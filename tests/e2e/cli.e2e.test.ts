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

  it('init is idempotent, projects create gives each project its own credentials, keys create adds keys', async () => {
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
    // only the key's digest is kept: an initialised data dir shows its project, not the key again
    const again = JSON.parse((await sluiceCli(['init', '--json', '--data-dir', dataDir])).stdout) as unknown
    expect(again).toEqual({ project_id: first.project_id, project_token: first.project_token })
    const initHuman = (await sluiceCli(['init', '--data-dir', dataDir])).stdout
    expect(initHuman).toContain(first.project_token)
    expect(initHuman).toContain('`sluice keys create` makes another')
    const second = JSON.parse(
      (await sluiceCli(['projects', 'create', '--name', 'Shop', '--json', '--data-dir', dataDir])).stdout,
    ) as Credentials
    expect(second.project_id).toBe(2)
    expect(second.project_token).not.toBe(first.project_token)
    expect(second.personal_api_key).not.toBe(first.personal_api_key)

    const keyFor = async (args: string[]) =>
      JSON.parse((await sluiceCli(['keys', 'create', '--json', '--data-dir', dataDir, ...args])).stdout) as {
        project_id: number
        personal_api_key: string
      }
    const firstAgain = await keyFor([])
    expect(firstAgain).toEqual({ project_id: 1, personal_api_key: expect.stringMatching(/^phx_\w{43}$/) })
    const secondAgain = await keyFor(['--project', '2'])
    expect(secondAgain.project_id).toBe(2)
    const keysHuman = (await sluiceCli(['keys', 'create', '--project', '2', '--data-dir', dataDir])).stdout
    expect(keysHuman).toMatch(/personal API key: {2}phx_\w{43}\n/)
    await expect(
      sluiceCli(['keys', 'create', '--project', '9', '--data-dir', dataDir]),
    ).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('no project 9; the projects are 1, 2'),
    })
    await expect(
      sluiceCli(['keys', 'create', '--project', 'shop', '--data-dir', dataDir]),
    ).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('--project takes a project id') })

    // every key reads its own project only
    running = await startSluiceProcess({ dataDir, credentials: first })
    const status = async (key: string, path: string) =>
      (await fetch(`${running?.url}${path}`, { headers: { authorization: `Bearer ${key}` } })).status
    for (const key of [first.personal_api_key, firstAgain.personal_api_key]) {
      expect(await status(key, '/api/projects/1/')).toBe(200)
      expect(await status(key, '/api/projects/2/')).toBe(403)
    }
    for (const key of [second.personal_api_key, secondAgain.personal_api_key]) {
      expect(await status(key, '/api/projects/2/')).toBe(200)
      expect(await status(key, '/api/projects/1/events/')).toBe(403)
    }
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
