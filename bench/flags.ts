import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { type ChildServer, sluiceRunning, sluiceStartArgs, startChild } from './child-server.ts'
import { printTable } from './report.ts'

const durationSeconds = Number(process.env.BENCH_SECONDS ?? 10)
const connections = 16
/** Each server is measured in this many turns of BENCH_SECONDS / rounds. */
const rounds = 5

/**
 * `/flags?v=2` throughput for a project with 10 flags of the usual kinds, against a bare fastify
 * server that parses the same request and answers a static body of the same size, in one run:
 * the two take turns (BENCH_SECONDS each, in `rounds` turns), so the shared machine's busy spells
 * weigh on both, and the ratio is the median of the turns'. sluice is first started with every
 * role, so that ingest creates the group type a group flag needs; then it is measured running the
 * api role alone (the role that serves /flags), so the figure is /flags' own cost and not that of
 * idle consumers sharing the two cores. Two requests: one whose person properties cover every
 * filter (as posthog-js and posthog-node send them: no database read), and one that lacks a
 * filtered property, so every request also reads the person from Postgres (PGlite here), as
 * PostHog's flags service does then.
 */
export async function flagsBench(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-bench-flags-'))
  const start = (roles: string[]) => startChild(sluiceStartArgs(dataDir, roles), sluiceRunning)
  let server = await start([])
  const token = /project token:\s+(\S+)/.exec(server.output)?.[1] ?? ''
  const key = /personal API key:\s+(\S+)/.exec(server.output)?.[1] ?? ''
  let baseline: ChildServer | null = null
  const rows: (string | number)[][] = []
  try {
    await groupTypeCompany(server.url, token, key)
    for (const flag of tenFlags()) {
      const response = await fetch(`${server.url}/api/projects/1/feature_flags/`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(flag),
      })
      if (response.status !== 201)
        throw new Error(`creating ${flag.key}: ${response.status} ${await response.text()}`)
    }
    await server.stop()
    server = await start(['--roles', 'api'])
    const sluice = { server, token }
    const requests = {
      'properties in the request': request(sluice.token, {
        plan: 'pro',
        email: 'ann@corp.io',
        age: 34,
        app_version: '2.4.1',
      }),
      'one property read from Postgres': request(sluice.token, {
        plan: 'pro',
        email: 'ann@corp.io',
        age: 34,
      }),
    }
    const size = (
      await (await post(`${sluice.server.url}/flags/?v=2`, requests['properties in the request'])).text()
    ).length
    process.env.RESPONSE_BYTES = String(size)
    baseline = await startChild(['--import', 'tsx', 'bench/bare-flags.ts'], /listening on (\S+)/)
    const bareBytes = (
      await (await post(`${baseline.url}/flags/`, requests['properties in the request'])).text()
    ).length
    for (const [name, body] of Object.entries(requests)) {
      // The machine is shared: bare and sluice take turns, so a busy spell weighs on both.
      const bare: Measured[] = []
      const ours: Measured[] = []
      for (let round = 1; round <= rounds; round++) {
        process.stdout.write(`${name}, round ${round}/${rounds}: bare fastify… `)
        bare.push(await load(baseline, `${baseline.url}/flags/`, body))
        process.stdout.write('sluice… ')
        ours.push(await load(sluice.server, `${sluice.server.url}/flags/?v=2`, body))
        console.log('done')
      }
      const ratios = ours
        .map((m, i) => m.requestsPerSecond / bare[i]!.requestsPerSecond)
        .sort((a, b) => a - b)
      rows.push(
        row(`${name} — bare fastify (${bareBytes} B answer)`, bare),
        row(`${name} — sluice /flags (${size} B answer)`, ours),
        [
          `${name} — ratio sluice / bare (median of ${rounds} rounds; lowest, highest)`,
          `${ratios[Math.floor(rounds / 2)]!.toFixed(2)} (${ratios[0]!.toFixed(2)}, ${ratios.at(-1)!.toFixed(2)})`,
          '',
          '',
          '',
        ],
      )
    }
  } finally {
    await baseline?.stop()
    await server.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
  printTable(['run (10 flags)', 'requests/s', 'p99 latency', 'CPU per request', 'non-2xx'], rows)
}

/** Group types come from ingest: one $groupidentify makes `company` group type 0. */
async function groupTypeCompany(url: string, token: string, key: string): Promise<void> {
  const event = {
    event: '$groupidentify',
    distinct_id: '$company_acme',
    properties: { $group_type: 'company', $group_key: 'acme', $group_set: { seats: 120 } },
  }
  await post(`${url}/batch/`, JSON.stringify({ api_key: token, batch: [event] }))
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const response = await fetch(`${url}/flags/definitions?token=${token}`, {
      headers: { authorization: `Bearer ${key}` },
    })
    const body = (await response.json()) as { group_type_mapping?: Record<string, string> }
    if (body.group_type_mapping?.['0'] === 'company') return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error('ingest did not create the company group type within 60 s')
}

function request(token: string, personProperties: Record<string, unknown>): string {
  return JSON.stringify({
    token,
    distinct_id: 'bench-user-42',
    person_properties: personProperties,
    groups: { company: 'acme' },
    group_properties: { company: { seats: 120 } },
  })
}

function post(url: string, body: string) {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
}

interface Measured {
  requestsPerSecond: number
  p99: number
  /** The server's CPU time (all threads) per request answered, where /proc tells it. */
  cpuMicrosPerRequest: number | null
  non2xx: number
}

async function load(server: ChildServer, url: string, body: string): Promise<Measured> {
  const cpuBefore = server.cpuSeconds()
  const result = await autocannon({
    url,
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
    connections,
    duration: durationSeconds / rounds,
  })
  const cpuAfter = server.cpuSeconds()
  return {
    requestsPerSecond: result.requests.average,
    p99: result.latency.p99,
    cpuMicrosPerRequest:
      cpuBefore === null || cpuAfter === null || result.requests.total === 0
        ? null
        : ((cpuAfter - cpuBefore) * 1e6) / result.requests.total,
    non2xx: result.non2xx,
  }
}

function row(name: string, rounds: Measured[]) {
  const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length
  const cpu = rounds.map((r) => r.cpuMicrosPerRequest)
  return [
    name,
    Math.round(mean(rounds.map((r) => r.requestsPerSecond))),
    `${Math.max(...rounds.map((r) => r.p99))} ms`,
    cpu.includes(null) ? '—' : `${Math.round(mean(cpu as number[]))} µs`,
    rounds.reduce((sum, r) => sum + r.non2xx, 0),
  ]
}

/** Rollouts, property conditions of several operators, variants with payloads, a group flag. */
function tenFlags() {
  const person = (key: string, operator: string, value: unknown) => ({ key, operator, value, type: 'person' })
  const variants = (...keys: string[]) => ({
    variants: keys.map((key) => ({ key, rollout_percentage: 100 / keys.length })),
  })
  return [
    { key: 'everyone', filters: { groups: [{ rollout_percentage: 100 }] } },
    { key: 'half', filters: { groups: [{ rollout_percentage: 50 }] } },
    { key: 'pro', filters: { groups: [{ properties: [person('plan', 'exact', ['pro', 'enterprise'])] }] } },
    {
      key: 'corp',
      filters: {
        groups: [{ properties: [person('email', 'icontains', '@corp.io')], rollout_percentage: 80 }],
      },
    },
    { key: 'adults', filters: { groups: [{ properties: [person('age', 'gte', 18)] }] } },
    { key: 'new-app', filters: { groups: [{ properties: [person('app_version', 'semver_gte', '2.0.0')] }] } },
    {
      key: 'checkout',
      filters: {
        groups: [{ rollout_percentage: 100 }],
        multivariate: variants('control', 'test'),
        payloads: { control: '{"button":"blue"}', test: '{"button":"green"}' },
      },
    },
    {
      key: 'pricing',
      filters: {
        groups: [
          { properties: [person('plan', 'exact', 'pro')], variant: 'annual' },
          { rollout_percentage: 30 },
        ],
        multivariate: variants('annual', 'monthly'),
      },
    },
    { key: 'regex', filters: { groups: [{ properties: [person('email', 'regex', '^[a-z]+@corp\\.io$')] }] } },
    {
      key: 'big-companies',
      filters: {
        aggregation_group_type_index: 0,
        groups: [
          { properties: [{ key: 'seats', operator: 'gt', value: 100, type: 'group', group_type_index: 0 }] },
        ],
      },
    },
  ]
}
