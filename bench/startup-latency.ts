import { setTimeout as sleep } from 'node:timers/promises'
import { startSluiceChild } from './child-server.ts'
import { percentile, printTable } from './report.ts'

/**
 * What a new user waits for: time from launching `sluice start` on a fresh data dir to
 * `/_readiness` answering 200, and one event's time from capture's 200 to being visible in the
 * events API (sequentially, on an otherwise idle instance).
 */
export async function startupAndLatencyBench(): Promise<void> {
  const startups: number[] = []
  const latencies: number[] = []
  for (let run = 1; run <= 3; run++) {
    process.stdout.write(`run ${run}/3: starting sluice on a fresh data dir… `)
    const launched = performance.now()
    const { server, token, key } = await startSluiceChild()
    try {
      await waitFor(
        async () =>
          (await fetch(`${server.url}/_readiness`).catch(() => undefined))?.status === 200 ? true : undefined,
        120_000,
      )
      startups.push(performance.now() - launched)
      process.stdout.write(
        `ready in ${(startups.at(-1)! / 1000).toFixed(2)} s; measuring capture→query latency… `,
      )
      for (let i = 0; i < 20; i++) {
        const distinctId = `bench-${run}-${i}`
        const response = await fetch(`${server.url}/e/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ api_key: token, event: 'bench', distinct_id: distinctId, properties: {} }),
        })
        if (response.status !== 200) throw new Error(`capture answered ${response.status}`)
        const captured = performance.now()
        await waitFor(
          async () => {
            const res = await fetch(`${server.url}/api/projects/1/events/?distinct_id=${distinctId}`, {
              headers: { authorization: `Bearer ${key}` },
            })
            const body = (await res.json()) as { results?: unknown[] }
            return body.results && body.results.length > 0 ? true : undefined
          },
          30_000,
          5,
        )
        latencies.push(performance.now() - captured)
      }
      console.log('done')
    } finally {
      await server.stop()
    }
  }
  printTable(
    ['measure', 'runs', 'p50', 'p99', 'max'],
    [
      [
        'start → /_readiness 200 (fresh data dir)',
        startups.length,
        ms(percentile(startups, 50)),
        ms(percentile(startups, 99)),
        ms(Math.max(...startups)),
      ],
      [
        'capture 200 → visible in events API',
        latencies.length,
        ms(percentile(latencies, 50)),
        ms(percentile(latencies, 99)),
        ms(Math.max(...latencies)),
      ],
    ],
  )
}

const ms = (value: number) => `${value.toFixed(0)} ms`

async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 50,
): Promise<T> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`)
    await sleep(intervalMs)
  }
}
