import { existsSync } from 'node:fs'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { kafkaAvailable, kafkaBootstrap } from '../support/kafka-broker.ts'
import { createTestDatabase, postgresServerReachable, postgresServerUrl } from '../support/postgres-server.ts'
import { serviceAvailable } from '../support/services.ts'
import {
  freePort,
  runSluice,
  type SluiceRun,
  spawnSluice,
  stackTraceLine,
} from '../support/sluice-process.ts'

/**
 * Every failure a person can cause or meet in their first hour ends in one or two lines saying what
 * failed and what to do, a non-zero exit, and no stack trace (issue 18).
 */
function expectTold(run: SluiceRun, code: number, ...said: RegExp[]) {
  const shown = `exit ${run.code}\n${run.stderr}`
  expect(run.code, shown).toBe(code)
  for (const pattern of said) expect(run.stderr, shown).toMatch(pattern)
  expect(run.stderr, shown).not.toMatch(stackTraceLine)
  // the failure itself: "sluice: <what failed>" and the fix beneath it, last
  const lines = run.stderr.trimEnd().split('\n')
  expect(lines.at(-2), shown).toMatch(/^sluice: /)
  expect(lines.at(-1), shown).toMatch(/^ {2}\S/)
}

const postgresAt = (database: string, user = new URL(postgresServerUrl).username) => {
  const url = new URL(postgresServerUrl)
  url.pathname = `/${database}`
  url.username = user
  return url.toString()
}

describe('failures a person can act on', async () => {
  const dirs: string[] = []
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-failures-'))
    dirs.push(dir)
    return dir
  }
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
  })
  const postgresRuns = serviceAvailable(
    'PostgreSQL',
    (await postgresServerReachable()) === null,
    postgresServerUrl,
  )

  it('a port in use: says which, and how to choose another; the data dir is left unlocked', async () => {
    const holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    const port = (holder.address() as { port: number }).port
    const dataDir = await tempDir()
    try {
      const run = await runSluice(['start', '--data-dir', dataDir, '--port', String(port)])
      expectTold(
        run,
        1,
        new RegExp(
          `cannot listen on 127.0.0.1:${port}: another program \\(another sluice\\?\\) is using the port`,
        ),
        /--port \(or SLUICE_PORT\)/,
      )
      expect(existsSync(join(dataDir, 'sluice.lock'))).toBe(false)
    } finally {
      holder.close()
    }
  })

  it('bad flag values: names the option or variable, what it takes, and exits 2', async () => {
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [
        ['start', '--port', 'abc'],
        {},
        /--port takes a port number, 0–65535 \(0 picks a free one\), not "abc"/,
      ],
      [['start'], { SLUICE_PORT: '99999' }, /SLUICE_PORT takes a port number.*not "99999"/],
      [
        ['start', '--roles', 'capture,indexer'],
        {},
        /unknown role "indexer" in --roles; roles are capture, ingest/,
      ],
      [['status', '--wait', 'soon'], {}, /--wait takes seconds, such as 60, not "soon"/],
      [['start', '--log-format', 'xml'], {}, /--log-format takes auto, pretty, json, not "xml"/],
      [['init', '--postgres', 'localhost:5432/sluice'], {}, /--postgres takes a URL such as postgres:\/\//],
      [['start', '--kafka', 'kafka'], {}, /--kafka takes host:port\[,host:port\]/],
      [['replay', '--from-offset', '-1'], {}, /--from-offset takes an offset/],
      [['keys', 'create', '--project', 'shop'], {}, /--project takes a project id/],
    ]
    const runs = await Promise.all(cases.map(([args, env]) => runSluice(args, { env })))
    runs.forEach((run, i) => {
      const [args, , said] = cases[i]!
      expectTold(run, 2, said, new RegExp(`\`sluice ${args[0]}.*--help\` lists the options, with examples`))
    })
    // commander's own refusals exit 2 as well, with its suggestion
    const unknown = await runSluice(['start', '--prot', '8001'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/unknown option '--prot'\n\(Did you mean --port\?\)/)
    expect(unknown.stderr).not.toMatch(stackTraceLine)
  })

  it('an unreachable database: says where and why, and how to wait for it', async () => {
    const port = await freePort()
    const run = await runSluice([
      'init',
      '--postgres',
      `postgres://postgres@127.0.0.1:${port}/sluice_test_away`,
    ])
    expectTold(
      run,
      1,
      new RegExp(`cannot reach PostgreSQL at 127.0.0.1:${port}/sluice_test_away \\(connection refused\\)`),
      /Start PostgreSQL, or correct --postgres \(or SLUICE_DATABASE_URL\); `--wait 60` waits/,
    )
  })

  it('an unknown host for the database: says the host was not found', async () => {
    const run = await runSluice([
      'keys',
      'create',
      '--postgres',
      'postgres://postgres@db.invalid:5432/sluice_test_x',
    ])
    expectTold(run, 1, /cannot reach PostgreSQL at db.invalid:5432\/sluice_test_x \(host not found\)/)
  })

  describe('on the PostgreSQL server', () => {
    const testRole = `sluice_test_nocreatedb_${process.pid}`
    const createdName = `sluice_test_created_${process.pid}_${Date.now().toString(36)}`
    const admin = async (statement: string) => {
      const client = new pg.Client({ connectionString: postgresServerUrl })
      await client.connect()
      try {
        await client.query(statement)
      } finally {
        await client.end()
      }
    }
    afterAll(async () => {
      if (!postgresRuns) return
      await admin(`DROP DATABASE IF EXISTS ${createdName} WITH (FORCE)`)
      await admin(`DROP ROLE IF EXISTS ${testRole}`)
    })

    it('a missing database: start says so and that init creates it', async (ctx) => {
      if (!postgresRuns) return ctx.skip()
      const missing = `sluice_test_missing_${process.pid}`
      const run = await runSluice([
        'start',
        '--postgres',
        postgresAt(missing),
        '--data-dir',
        await tempDir(),
        '--port',
        '0',
      ])
      expectTold(
        run,
        1,
        new RegExp(`PostgreSQL at [^ ]+/${missing}: the database "${missing}" does not exist`),
        new RegExp(`\`sluice init --postgres ${postgresAt(missing).replace(/[.?]/g, '\\$&')}\` creates it`),
      )
    })

    it('init creates the database when the server lets it, and is idempotent', async (ctx) => {
      if (!postgresRuns) return ctx.skip()
      const first = await runSluice(['init', '--json', '--postgres', postgresAt(createdName)])
      expect(first.code, first.stderr).toBe(0)
      expect(first.stderr).toMatch(new RegExp(`Created the database: PostgreSQL at [^ ]+/${createdName}`))
      expect(JSON.parse(first.stdout)).toMatchObject({ project_id: 1, personal_api_key: expect.any(String) })
      const again = await runSluice(['init', '--postgres', postgresAt(createdName)])
      expect(again.code, again.stderr).toBe(0)
      expect(again.stderr).toBe('')
      expect(again.stdout).toMatch(/is already initialised/)
    })

    it('init says how when the user may not create the database', async (ctx) => {
      if (!postgresRuns) return ctx.skip()
      await admin(`DROP ROLE IF EXISTS ${testRole}`)
      await admin(`CREATE ROLE ${testRole} LOGIN NOCREATEDB`)
      const database = `sluice_test_refused_${process.pid}`
      const run = await runSluice(['init', '--postgres', postgresAt(database, testRole)])
      expectTold(
        run,
        1,
        new RegExp(`user "${testRole}" may not create the database "${database}"`),
        new RegExp(`Have an administrator run CREATE DATABASE "${database}" OWNER "${testRole}"`),
      )
    })

    it('a login the server refuses: names the user and where to correct it', async (ctx) => {
      if (!postgresRuns) return ctx.skip()
      // trust authentication lets any password in, so the refusal met here is an unknown user (28000);
      // a wrong password (28P01) takes the same path, see adapters/cli/failures.unit.test.ts
      const user = `sluice_test_nobody_${process.pid}`
      const run = await runSluice(['init', '--postgres', postgresAt(`sluice_test_${process.pid}`, user)])
      expectTold(
        run,
        1,
        new RegExp(`refused the login of user "${user}" \\(role "${user}" does not exist\\)`),
        /correct --postgres \(or SLUICE_DATABASE_URL\)/,
      )
    })
  })

  it('an unreachable broker: one line per try, then what to do — no kafkajs flood', async () => {
    const port = await freePort()
    const run = await runSluice([
      'start',
      '--kafka',
      `127.0.0.1:${port}`,
      '--wait',
      '3',
      '--log-format',
      'pretty',
      '--data-dir',
      await tempDir(),
      '--port',
      '0',
    ])
    expectTold(
      run,
      1,
      // the wait, and the last try begun within it (a busy machine can make that a second long)
      new RegExp(`Kafka at 127.0.0.1:${port} was still away after [34] s \\(connection refused\\)`),
      /Start Kafka, or correct --kafka \(or SLUICE_KAFKA_BROKERS\); --wait sets how long sluice waits/,
    )
    const waiting = run.stderr.split('\n').filter((line) => line.includes('waiting for'))
    expect(waiting.length).toBeGreaterThanOrEqual(2)
    expect(waiting.length).toBeLessThanOrEqual(3)
    expect(waiting[0]).toMatch(
      new RegExp(
        `^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} WARN  waiting for Kafka at 127.0.0.1:${port} \\(connection refused; 1st try, next in 1 s\\)…`,
      ),
    )
    // 2 s, or what is left of the wait when a busy machine made the first try slow (the exact
    // sequence is wait-for-dependency.unit.test.ts's, on a clock of its own)
    expect(waiting[1]).toMatch(/\(connection refused; 2nd try, next in [12] s\)…/)
    expect(run.stderr.split('\n').filter(Boolean)).toHaveLength(waiting.length + 2)
  })

  it('a database that comes back while start waits: it goes on, and its log lines are JSON off a terminal', async (ctx) => {
    if (!postgresRuns) return ctx.skip()
    const database = await createTestDatabase('sluice_test_wait')
    const port = await freePort()
    const target = new URL(database.url)
    const proxied = new URL(database.url)
    proxied.port = String(port)
    let proxy: Server | undefined
    const sluice = spawnSluice([
      'start',
      '--postgres',
      proxied.toString(),
      '--data-dir',
      await tempDir(),
      '--port',
      '0',
    ])
    try {
      await sluice.waitFor(/waiting for PostgreSQL/)
      // PostgreSQL "comes back": a TCP relay to the real server starts listening where sluice looks
      proxy = createServer((client) => {
        const server = new Socket()
        server.connect(Number(target.port || 5432), target.hostname)
        client.pipe(server).pipe(client)
        client.on('error', () => server.destroy())
        server.on('error', () => client.destroy())
      })
      await new Promise<void>((resolve) => proxy?.listen(port, '127.0.0.1', resolve))
      await sluice.waitFor(/sluice is running at/)
      const lines = sluice
        .stderr()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { level: number; msg: string; service?: string })
      expect(lines.length).toBeGreaterThanOrEqual(1)
      for (const line of lines) {
        expect(line.level).toBe(40)
        expect(line.msg).toMatch(
          /^waiting for PostgreSQL at 127.0.0.1:\d+\/sluice_test_wait\w* \(connection refused; \d\w\w try, next in \d+ s\)…$/,
        )
      }
    } finally {
      sluice.child.kill('SIGTERM')
      await sluice.exited
      proxy?.close()
      await database.drop()
    }
  })

  it('a broker that comes back while start waits: it goes on', async (ctx) => {
    if (!(await kafkaAvailable()) || !postgresRuns) return ctx.skip()
    const database = await createTestDatabase('sluice_test_wait_kafka')
    const port = await freePort()
    const [host = '127.0.0.1', brokerPort = '19092'] = kafkaBootstrap.split(',')[0]!.split(':')
    let proxy: Server | undefined
    const sluice = spawnSluice([
      'start',
      '--roles',
      'capture',
      '--kafka',
      `127.0.0.1:${port}`,
      '--kafka-prefix',
      `wait_${Date.now().toString(36)}_`,
      '--postgres',
      database.url,
      '--port',
      '0',
      '--log-format',
      'pretty',
    ])
    try {
      await sluice.waitFor(/waiting for Kafka at 127.0.0.1:\d+ \(connection refused; 1st try, next in 1 s\)…/)
      // the relay serves the bootstrap; the metadata then points sluice at the broker itself
      proxy = createServer((client) => {
        const server = new Socket()
        server.connect(Number(brokerPort), host)
        client.pipe(server).pipe(client)
        client.on('error', () => server.destroy())
        server.on('error', () => client.destroy())
      })
      await new Promise<void>((resolve) => proxy?.listen(port, '127.0.0.1', resolve))
      await sluice.waitFor(/sluice is running at/)
      expect(sluice.stderr()).not.toMatch(/kafka:/)
    } finally {
      sluice.child.kill('SIGTERM')
      await sluice.exited
      proxy?.close()
      await database.drop()
    }
  })

  it('an unknown data dir: commands other than start and init do not make one', async () => {
    const missing = join(await tempDir(), 'typo')
    for (const command of [['status'], ['dlq', 'list'], ['keys', 'create'], ['verify']]) {
      const run = await runSluice([...command, '--data-dir', missing])
      expectTold(
        run,
        2,
        new RegExp(`there is no data dir at ${missing}`),
        new RegExp(`\`sluice init --data-dir ${missing}\` makes one`),
      )
    }
    expect(existsSync(missing)).toBe(false)
  })

  it('a data dir that is a file, or a directory that holds nothing of sluice', async () => {
    const file = join(await tempDir(), 'notes.txt')
    await writeFile(file, 'not a data dir')
    expectTold(
      await runSluice(['start', '--data-dir', file, '--port', '0']),
      2,
      /the data dir .*notes.txt is not a directory/,
    )
    const empty = await tempDir()
    expectTold(
      await runSluice(['status', '--data-dir', empty]),
      2,
      /holds nothing of sluice \(no postgres\/, log\/ or clickhouse\/ in it\)/,
      /Point --data-dir \(or SLUICE_DATA_DIR\) at the directory sluice start used/,
    )
  })

  it('an unreadable data dir: says so and how to get access', async (ctx) => {
    const dataDir = await tempDir()
    const init = await runSluice(['init', '--data-dir', dataDir])
    expect(init.code, init.stderr).toBe(0)
    // root reads everything: it runs sluice as nobody then; anyone else loses access to a dir of theirs
    const asRoot = process.getuid?.() === 0
    const nobody = { uid: 65534, gid: 65534, env: { HOME: tmpdir() } }
    if (asRoot && (await runSluice(['--help'], nobody)).code !== 0) {
      console.warn(
        'the unreadable data dir case is skipped: running as root, and nobody cannot read the repository',
      )
      return ctx.skip()
    }
    if (!asRoot) await chmod(dataDir, 0o000)
    try {
      const run = await runSluice(['status', '--data-dir', dataDir], asRoot ? nobody : {})
      expectTold(
        run,
        1,
        new RegExp(`cannot read and write the data dir ${dataDir} \\(permission denied\\)`),
        /Run sluice as the user that owns it, or give this user access to it/,
      )
    } finally {
      await chmod(dataDir, 0o700)
    }
  })

  it('a data dir of a newer schema: says so, and leaves it untouched', async () => {
    const dataDir = await tempDir()
    expect((await runSluice(['init', '--data-dir', dataDir])).code).toBe(0)
    // what a later release's migration would leave behind
    const db = new PGlite(join(dataDir, 'postgres'))
    await db.query(`INSERT INTO sluice_migrations (version, name) VALUES (999, 'from the future')`)
    await db.close()
    const run = await runSluice(['start', '--data-dir', dataDir, '--port', '0'])
    expectTold(
      run,
      1,
      new RegExp(
        `the data dir ${dataDir} was written by a newer sluice \\(PostgreSQL schema version 999; this sluice knows up to \\d+\\)`,
      ),
      /Run that newer sluice release/,
    )
    expect(existsSync(join(dataDir, 'log'))).toBe(false)
    expect(existsSync(join(dataDir, 'sluice.lock'))).toBe(false)
  })

  it('shows the stack trace when asked to', async () => {
    const missing = join(await tempDir(), 'typo')
    const run = await runSluice(['status', '--data-dir', missing], { env: { SLUICE_LOG_LEVEL: 'debug' } })
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/^sluice: there is no data dir at/)
    expect(run.stderr).toMatch(stackTraceLine)
  })
})
