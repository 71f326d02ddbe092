import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { Socket } from 'node:net'
import { availableParallelism, getPriority, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  type Credentials,
  freePort,
  runSluice,
  type SpawnedSluice,
  spawnSluice,
  stackTraceLine,
} from '../support/sluice-process.ts'

/** The operator's side of `sluice`: help, settings from the environment, Ctrl-C, a running sluice. */
describe('operating sluice', () => {
  const dirs: string[] = []
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-operator-'))
    dirs.push(dir)
    return dir
  }
  const started: SpawnedSluice[] = []
  afterAll(async () => {
    for (const sluice of started)
      if (sluice.child.exitCode === null && sluice.child.signalCode === null) {
        sluice.child.kill('SIGKILL')
        await sluice.exited
      }
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
  })
  const start = async (args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string) => {
    const sluice = spawnSluice(['start', ...args], { env, cwd })
    started.push(sluice)
    const [, url] = await sluice.waitFor(/sluice is running at (\S+)[\s\S]*Press Ctrl\+C/)
    return { sluice, url: url! }
  }

  it('sluice --help and every command help show an example', async () => {
    const commands = [
      [],
      ['start'],
      ['init'],
      ['projects'],
      ['projects', 'create'],
      ['keys'],
      ['keys', 'create'],
      ['status'],
      ['verify'],
      ['replay'],
      ['dlq'],
      ['dlq', 'list'],
      ['dlq', 'replay'],
      ['clickhouse'],
      ['clickhouse', 'ddl'],
    ]
    for (let i = 0; i < commands.length; i += 4) {
      const batch = commands.slice(i, i + 4)
      const runs = await Promise.all(batch.map((command) => runSluice([...command, '--help'])))
      runs.forEach((run, j) => {
        const command = batch[j]!
        expect([command, run.code]).toEqual([command, 0])
        expect(run.stdout, command.join(' ')).toMatch(/\nExamples:\n/)
        expect(run.stdout, command.join(' ')).toMatch(
          new RegExp(`\\n {2}\\$ npx sluice ${command.join(' ')}`.replace(/ $/, '')),
        )
      })
    }
  })

  it('start takes its port, host, roles and main thread priority from SLUICE_PORT, SLUICE_HOST, SLUICE_ROLES and SLUICE_MAIN_THREAD_PRIORITY', async () => {
    const port = await freePort()
    const dataDir = await tempDir()
    const { sluice, url } = await start(['--data-dir', dataDir], {
      SLUICE_PORT: String(port),
      SLUICE_HOST: '127.0.0.1',
      SLUICE_ROLES: 'capture,ingest',
      SLUICE_MAIN_THREAD_PRIORITY: 'nice',
    })
    expect(url).toBe(`http://127.0.0.1:${port}`)
    expect(sluice.stdout()).toContain('(roles: capture, ingest;')
    if (process.platform === 'linux')
      expect(threadStat(sluice.child.pid!, sluice.child.pid!)).toMatchObject({
        nice: Math.min(19, getPriority() + 10),
        policy: 0,
      })
    expect((await fetch(`${url}/_liveness`)).status).toBe(200)
    sluice.child.kill('SIGTERM')
    expect(await sluice.exited).toBe(0)
  })

  describe('while sluice runs', () => {
    let dataDir: string
    let url: string
    let sluice: SpawnedSluice

    it('projects create and keys create act through it, and their keys work at once', async () => {
      dataDir = await tempDir()
      // started from a directory of the user's, not sluice's (its threads load sluice's modules all the same)
      ;({ sluice, url } = await start(['--data-dir', dataDir, '--port', '0'], {}, tmpdir()))
      const created = await runSluice([
        'projects',
        'create',
        '--name',
        'Live',
        '--json',
        '--data-dir',
        dataDir,
      ])
      expect(created.code, created.stderr).toBe(0)
      const project = JSON.parse(created.stdout) as Credentials
      expect(project).toMatchObject({ project_id: 2, personal_api_key: expect.stringMatching(/^phx_/) })
      const key = await runSluice(['keys', 'create', '--project', '2', '--json', '--data-dir', dataDir])
      expect(key.code, key.stderr).toBe(0)
      const { personal_api_key } = JSON.parse(key.stdout) as { personal_api_key: string }
      for (const secret of [project.personal_api_key, personal_api_key]) {
        const read = (id: number) =>
          fetch(`${url}/api/projects/${id}/`, { headers: { authorization: `Bearer ${secret}` } })
        expect((await read(2)).status).toBe(200)
        expect((await read(1)).status).toBe(403)
      }
      const unknown = await runSluice(['keys', 'create', '--project', '9', '--data-dir', dataDir])
      expect(unknown.code).toBe(2)
      expect(unknown.stderr).toMatch(/^sluice: there is no project 9; the projects are 1, 2\n/)
      const init = await runSluice(['init', '--data-dir', dataDir])
      expect(init.code, init.stderr).toBe(0)
      expect(init.stdout).toMatch(/is already initialised/)
      // what must have the data dir to itself still says who holds it, and what to do
      const replay = await runSluice(['replay', '--data-dir', dataDir])
      expect(replay.code).toBe(2)
      expect(replay.stderr).toMatch(
        new RegExp(
          `^sluice: the data dir ${dataDir} is in use by process ${sluice.child.pid} .*\\n {2}Stop that process first`,
        ),
      )
      expect(replay.stderr).not.toMatch(stackTraceLine)
    })

    it.skipIf(process.platform !== 'linux' || availableParallelism() < 2)(
      'its main thread runs only on a core capture leaves free (SCHED_IDLE), its capture thread at the normal policy',
      async () => {
        const pid = sluice.child.pid
        const threads = () =>
          new Map(
            readdirSync(`/proc/${pid}/task`).map(
              (tid) => [Number(tid), threadStat(pid!, Number(tid))] as const,
            ),
          )
        expect(threadStat(pid!, pid!).policy).toBe(5)
        const token = /project token:\s+(\S+)/.exec(sluice.stdout())?.[1]
        const before = threads()
        const batch = Array.from({ length: 50 }, (_, i) => ({ event: 'e', distinct_id: `d${i}` }))
        for (let i = 0; i < 100; i++) {
          const response = await fetch(`${url}/batch/`, {
            method: 'POST',
            body: JSON.stringify({ api_key: token, batch }),
          })
          expect(response.status).toBe(200)
        }
        // the thread that did most of that work besides the main one answers capture
        const [busiest] = [...threads()]
          .filter(([tid]) => tid !== pid)
          .sort(([a, x], [b, y]) => y.cpu - (before.get(b)?.cpu ?? 0) - (x.cpu - (before.get(a)?.cpu ?? 0)))
        expect(busiest?.[1].policy).toBe(0)
      },
    )

    it('Ctrl-C stops it cleanly, saying what it waits for, and frees the data dir', async () => {
      sluice.child.kill('SIGINT')
      expect(await sluice.exited).toBe(0)
      expect(sluice.stderr()).toMatch(
        /Stopping: waiting for the capture thread \(the requests in hand\), the HTTP server \(the requests in hand\), the projector \(its insert in hand\), ingest \(the batch in hand\), .*the split \(the requests in hand\), .*PGlite, the data dir lock \(Ctrl-C again stops at once\)…\n/,
      )
      expect(sluice.stderr()).toMatch(/\nStopped\.\n$/)
      expect(existsSync(join(dataDir, 'sluice.lock'))).toBe(false)
    })
  })

  it('Ctrl-C while start waits for a server stops the wait, leaving nothing behind', async () => {
    const dataDir = await tempDir()
    const sluice = spawnSluice([
      'start',
      '--kafka',
      `127.0.0.1:${await freePort()}`,
      '--data-dir',
      dataDir,
      '--port',
      '0',
    ])
    started.push(sluice)
    await sluice.waitFor(/waiting for Kafka at/)
    sluice.child.kill('SIGINT')
    expect(await sluice.exited).toBe(130)
    expect(sluice.stderr()).toMatch(
      /Stopping: sluice was still starting; closing what it opened \(Ctrl-C again stops at once\)…\nsluice: stopped before it had started \(Ctrl-C\)\n {2}Nothing was left running\.\n$/,
    )
    expect(existsSync(join(dataDir, 'sluice.lock'))).toBe(false)
  })

  it('goes on after its output lost its reader, and still stops cleanly', async () => {
    const dataDir = await tempDir()
    const { sluice, url } = await start(['--data-dir', dataDir, '--port', '0'], { SLUICE_LOG_LEVEL: 'info' })
    const token = /project token:\s+(\S+)/.exec(sluice.stdout())?.[1]
    // the terminal it ran in closed, or the program it was piped to ended
    sluice.child.stdout?.destroy()
    sluice.child.stderr?.destroy()
    const captured = await fetch(`${url}/e/`, {
      method: 'POST',
      body: JSON.stringify({ api_key: token, event: 'unheard', distinct_id: 'user-1' }),
    })
    expect(captured.status).toBe(200)
    // stopping says what it waits for, to nobody
    sluice.child.kill('SIGTERM')
    expect(await sluice.exited).toBe(0)
    expect(existsSync(join(dataDir, 'sluice.lock'))).toBe(false)
  })

  it('a second Ctrl-C stops it at once, while the first waits for a request in hand', async () => {
    const dataDir = await tempDir()
    const { sluice, url } = await start(['--data-dir', dataDir, '--port', '0'])
    // a request whose body never ends: the first Ctrl-C waits for it. `Expect: 100-continue` makes
    // the server say when it has the request in hand.
    const client = new Socket()
    client.on('error', () => {})
    const { hostname, port } = new URL(url)
    await new Promise<void>((resolve) => client.connect(Number(port), hostname, resolve))
    const inHand = new Promise<void>((resolve) => client.once('data', () => resolve()))
    client.write(
      'POST /batch/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n',
    )
    await inHand
    client.write('{"ba')
    try {
      sluice.child.kill('SIGINT')
      // capture's requests are in the hands of its thread
      await sluice.waitFor(/ {2}still waiting for the capture thread \(the requests in hand\)…/, 8000)
      sluice.child.kill('SIGINT')
      expect(await sluice.exited).toBe(130)
      expect(sluice.stderr()).toMatch(
        /SIGINT again: stopping at once; a batch in hand is processed again at the next start\.\n$/,
      )
      expect(existsSync(join(dataDir, 'sluice.lock'))).toBe(false)
    } finally {
      client.destroy()
    }
  })
})

/** A thread's CPU time (clock ticks), nice value and scheduling policy (0 normal, 5 SCHED_IDLE). */
function threadStat(pid: number, tid: number): { cpu: number; nice: number; policy: number } {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
  // the fields after the parenthesised name: utime 11, stime 12, nice 16, policy 38
  const fields = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number)
  return { cpu: fields[11]! + fields[12]!, nice: fields[16]!, policy: fields[38]! }
}
