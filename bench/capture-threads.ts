/**
 * Whether capture's work, spread over two threads, takes more 50-event batches than on one, on
 * this machine — against bare fastify in the same rounds, with 16 connections as in `capture`.
 * Capture's work here is all of it but HTTP's: decode, check, build the record, append it durably
 * (capture-threads-server.ts has the three designs). Run only when named: a diagnostic for the
 * machine at hand. The `two` design needs Node 22.12 or later (two threads on one port); on an
 * older Node it is left out with the reason.
 */

import { busiestRow, type Loaded, load, medianBy, payload } from './capture.ts'
import { startChild } from './child-server.ts'
import { printTable } from './report.ts'

const durationSeconds = Number(process.env.BENCH_SECONDS ?? 10)
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3))
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
const portSharing = major > 22 || (major === 22 && minor >= 12)

const designs = [
  { design: 'one', name: 'one thread: capture as `sluice start` runs it' },
  {
    design: 'handoff',
    name: 'two threads: HTTP on one, its bodies handed to the other through shared memory',
  },
  { design: 'two', name: 'two threads on one port, each doing it all' },
] as const

export async function captureThreadsBench(): Promise<void> {
  const body = JSON.stringify(payload('batch', 'phc_bench'))
  const measured = designs.map(() => [] as { loaded: Loaded; ratio: number }[])
  const bareRequests: number[] = []
  for (let round = 1; round <= rounds; round++) {
    process.stdout.write(`round ${round} of ${rounds}: bare fastify ${durationSeconds}s… `)
    const baseline = await startChild(['--import', 'tsx', 'bench/bare-fastify.ts'], /listening on (\S+)/)
    const bare = await load(baseline, `${baseline.url}/batch/`, body)
    await baseline.stop()
    bareRequests.push(Math.round(bare.result.requests.average))
    for (const [i, { design }] of designs.entries()) {
      if (design === 'two' && !portSharing) continue
      process.stdout.write(`${design} ${durationSeconds}s… `)
      const server = await startChild(
        ['--max-semi-space-size=64', '--import', 'tsx', 'bench/capture-threads-server.ts'],
        /listening on (\S+)/,
        undefined,
        { DESIGN: design },
      )
      try {
        const loaded = await load(server, `${server.url}/batch/`, body)
        measured[i]!.push({ loaded, ratio: loaded.result.requests.average / bare.result.requests.average })
      } finally {
        await server.stop()
      }
    }
    console.log('done')
  }
  const rows: (string | number)[][] = [[`bare fastify, round by round`, bareRequests.join(', '), '', '', '']]
  for (const [i, { name, design }] of designs.entries()) {
    const runs = measured[i]!
    if (runs.length === 0) {
      rows.push([
        `${name}: left out, Node ${process.versions.node} cannot share a port between threads (22.12+)`,
        '',
        '',
        '',
        '',
      ])
      continue
    }
    const typical = medianBy(runs, (run) => run.ratio)
    rows.push(
      [
        `${name} (${design})`,
        Math.round(typical.loaded.result.requests.average),
        typical.ratio.toFixed(2),
        runs.map((run) => run.ratio.toFixed(2)).join(', '),
        `${typical.loaded.result.latency.p99} ms`,
      ],
      ...[
        ...busiestRow(typical.loaded),
        ...busiestRow({ busiest: typical.loaded.nextBusiest }, 'the next busiest'),
      ].map(([what, , , , micros]) => [what ?? '', '', '', '', micros ?? '']),
    )
  }
  printTable(
    ['50-event batches, 16 connections', 'requests/s', 'ratio to bare', 'ratio, round by round', 'p99'],
    rows,
  )
}
