import { startSluiceChild } from './child-server.ts'
import { nothingToConsume, sendBatch, sendEvents, timeToQueryable, waitUntil } from './production.ts'
import { percentile, printTable } from './report.ts'

const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const rates = [250, 1000, 4000]
const perRequest = 50

/**
 * `sluice start` (embedded) under a steady offered load, after a warm-up: the CPU it takes (all its
 * threads) at each rate, per event, against what it takes at rest in the same run; and, while the
 * load runs, how long a single event takes from capture's answer until the events API shows it.
 */
export async function steadyBench(): Promise<void> {
  process.stdout.write('starting… ')
  const { server, token, key } = await startSluiceChild()
  const cpu = () => server.cpuSeconds() ?? Number.NaN
  try {
    process.stdout.write('warming up… ')
    await sendEvents(server.url, token, 'warm-up', 20_000)
    await waitUntil(() => nothingToConsume(server.url, key), 600_000)
    await new Promise((resolve) => setTimeout(resolve, 5000))
    const restStarted = cpu()
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
    const atRest = (cpu() - restStarted) / seconds
    const rows: (string | number)[][] = [['at rest', atRest.toFixed(2), '', '', '']]
    for (const rate of rates) {
      process.stdout.write(`${rate} events/s… `)
      const started = performance.now()
      const cpuStarted = cpu()
      const lags = measureLags(server.url, token, key, started + seconds * 1000)
      const requests: Promise<void>[] = []
      for (let i = 0; i < rate * seconds; i += perRequest) {
        requests.push(sendBatch(server.url, token, 'steady', i, perRequest))
        const due = started + ((i + perRequest) * 1000) / rate - performance.now()
        if (due > 0) await new Promise((resolve) => setTimeout(resolve, due))
      }
      await Promise.all(requests)
      const lagSamples = await lags
      await waitUntil(() => nothingToConsume(server.url, key), 600_000)
      const used = cpu() - cpuStarted
      const elapsed = (performance.now() - started) / 1000
      rows.push([
        `${rate} events/s in requests of ${perRequest}`,
        (used / elapsed).toFixed(2),
        `${Math.round((used * 1e6) / (rate * seconds))} µs`,
        `${percentile(lagSamples, 50).toFixed(0)} ms`,
        `${Math.max(...lagSamples).toFixed(0)} ms`,
      ])
    }
    console.log('done')
    printTable(['load (embedded, after a warm-up)', 'cores', 'CPU per event', 'lag p50', 'lag max'], rows)
  } finally {
    await server.stop()
  }
}

/** A single event every 0.7 s until `until`, each timed from capture's answer to the events API showing it. */
async function measureLags(url: string, token: string, key: string, until: number): Promise<number[]> {
  const lags: number[] = []
  for (let n = 0; performance.now() < until - 1000; n++) {
    await new Promise((resolve) => setTimeout(resolve, 700))
    lags.push(await timeToQueryable(url, token, key, `lag-${Date.now()}-${n}`, 10))
  }
  return lags
}
