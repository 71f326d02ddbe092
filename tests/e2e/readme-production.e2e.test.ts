import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { PostHog } from 'posthog-node'
import { afterAll, describe, expect, it } from 'vitest'
import { kafkaAvailable, kafkaBootstrap } from '../support/kafka-broker.ts'
import { postgresServerReachable, postgresServerUrl } from '../support/postgres-server.ts'
import { serviceAvailable } from '../support/services.ts'
import {
  type Credentials,
  eventually,
  freePort,
  runSluice,
  type SpawnedSluice,
  spawnSluice,
  stackTraceLine,
} from '../support/sluice-process.ts'

const repository = new URL('../..', import.meta.url).pathname

/** The commands of the README's "Production mode" block, comments and blank lines left out. */
function productionSteps(): string[] {
  const readme = readFileSync(join(repository, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Production mode'))
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1]
  if (block === undefined) throw new Error('the README has no sh block under "## Production mode"')
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter(Boolean)
}

/**
 * The README's production steps, run as written on a machine with PostgreSQL (127.0.0.1:5432, user
 * postgres, trust) and the broker of `npm run kafka` — with three changes a test needs and a user
 * does not: the database is named as a test's (and dropped afterwards), the topics get a prefix of
 * their own, and the ports are free ones.
 */
describe("the README's production mode, as written", async () => {
  const runs =
    (await kafkaAvailable()) &&
    serviceAvailable('PostgreSQL', (await postgresServerReachable()) === null, postgresServerUrl)
  const database = `sluice_readme_test_${process.pid}_${Date.now().toString(36)}`
  const processes: SpawnedSluice[] = []
  let cwd: string | undefined
  afterAll(async () => {
    for (const sluice of processes)
      if (sluice.child.exitCode === null && sluice.child.signalCode === null) {
        sluice.child.kill('SIGKILL')
        await sluice.exited
      }
    if (cwd) await rm(cwd, { recursive: true, force: true })
    if (!runs) return
    const admin = new pg.Client({ connectionString: postgresServerUrl })
    await admin.connect()
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).finally(() => admin.end())
  })

  it('starts capture, two ingest processes and project+api that capture, merge and serve, quietly', async (ctx) => {
    if (!runs) return ctx.skip()
    cwd = await mkdtemp(join(tmpdir(), 'sluice-readme-'))
    const testDatabaseUrl = new URL(postgresServerUrl)
    testDatabaseUrl.pathname = `/${database}`
    const substitutes: Record<string, string> = {
      'postgres://postgres@127.0.0.1:5432/sluice': testDatabaseUrl.toString(),
      '127.0.0.1:19092': kafkaBootstrap,
    }
    const env: NodeJS.ProcessEnv = { SLUICE_KAFKA_PREFIX: `readme_${Date.now().toString(36)}_` }
    const ports = new Map<string, string>()
    let credentials: Credentials | undefined
    const roles = new Map<string, SpawnedSluice>()

    const steps = productionSteps()
    expect(steps[0]).toBe('npm run kafka -- --daemon')
    for (const step of steps) {
      if (step === 'npm run kafka -- --daemon') {
        // the broker is up already (or this test skipped): the script must say so and leave it be
        if (kafkaBootstrap !== '127.0.0.1:19092') continue
        const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'kafka', '--', '--daemon'], {
          cwd: repository,
        })
        expect(stdout).toMatch(/a broker already answers on 127.0.0.1:19092|broker ready/)
        continue
      }
      const exported = /^export (\w+)=(\S+)$/.exec(step)
      if (exported) {
        const [, name, value] = exported
        expect(Object.keys(substitutes)).toContain(value)
        env[name!] = substitutes[value!]
        continue
      }
      const command = /^npx sluice (.+?)( &)?$/.exec(step)
      if (!command) throw new Error(`a step this test does not know how to run: ${step}`)
      const args = command[1]!.split(/\s+/)
      const portAt = args.indexOf('--port')
      if (portAt >= 0) {
        const asWritten = args[portAt + 1]!
        ports.set(asWritten, String(await freePort()))
        args[portAt + 1] = ports.get(asWritten)!
      }
      if (command[2] === undefined) {
        const run = await runSluice(args, { env, cwd })
        expect(run.code, `${step}\n${run.stderr}`).toBe(0)
        if (args[0] === 'init') {
          expect(run.stderr).toMatch(new RegExp(`Created the database: PostgreSQL at [^ ]+/${database}`))
          credentials = JSON.parse(run.stdout) as Credentials
        }
      } else {
        const sluice = spawnSluice(args, { env, cwd })
        processes.push(sluice)
        roles.set(args[args.indexOf('--roles') + 1]!, sluice)
      }
    }
    for (const sluice of processes) await sluice.waitFor(/sluice is running at \S+[\s\S]*Press Ctrl\+C/)
    expect([...roles.keys()].sort()).toEqual(['capture', 'ingest', 'project,api'])
    expect(processes).toHaveLength(4)
    if (credentials === undefined) throw new Error('`sluice init --json` printed no credentials')

    // what the README says next: the SDKs send to capture on 8000, the API answers on 8003
    const capture = `http://127.0.0.1:${ports.get('8000')}`
    const api = `http://127.0.0.1:${ports.get('8003')}`
    const posthog = new PostHog(credentials.project_token, { host: capture, flushAt: 10, flushInterval: 0 })
    for (let i = 0; i < 10; i++) posthog.capture({ distinctId: `readme-anon-${i}`, event: 'viewed' })
    for (let i = 0; i < 10; i++)
      posthog.identify({
        distinctId: `readme-user-${i}`,
        properties: { $anon_distinct_id: `readme-anon-${i}` },
      })
    await posthog.shutdown()
    const read = async <T>(path: string) =>
      (await (
        await fetch(`${api}/api/projects/${credentials?.project_id}${path}`, {
          headers: { authorization: `Bearer ${credentials?.personal_api_key}` },
        })
      ).json()) as { results: T[] }
    await eventually(
      async () => ((await read('/events/?event=viewed&limit=100')).results.length === 10 ? true : undefined),
      90_000,
      'the 10 events through the API',
    )
    const person = await eventually(
      async () =>
        (await read<{ distinct_ids: string[] }>('/persons/?distinct_id=readme-user-3')).results.find((p) =>
          p.distinct_ids.includes('readme-anon-3'),
        ),
      90_000,
      'the merged person',
    )
    expect(person.distinct_ids.sort()).toEqual(['readme-anon-3', 'readme-user-3'])

    // a healthy installation says nothing: no kafkajs rebalancing or coordinator chatter, no warning
    for (const sluice of processes) expect(sluice.stderr()).toBe('')
    for (const sluice of processes) {
      sluice.child.kill('SIGTERM')
      expect(await sluice.exited).toBe(0)
      expect(sluice.stderr()).toMatch(
        /^Stopping: waiting for [^\n]*\n( {2}still waiting for [^\n]*\n)*Stopped\.\n$/,
      )
      expect(sluice.stderr()).not.toMatch(stackTraceLine)
    }
  })
})
