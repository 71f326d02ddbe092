import autocannon from 'autocannon'
import { afterAll, describe, expect, it } from 'vitest'
import type { IngestionStatus } from '../../commands/status/ingestion-status.ts'
import { eventually, type SluiceProcess, startSluiceProcess } from '../support/sluice-process.ts'

const connections = 16
const gaveWay = /sluice_consumer_gave_way_seconds_total\{group="split"\} ([\d.e+-]+)/

describe('a burst that saturates capture', () => {
  let sluice: SluiceProcess | undefined
  afterAll(() => sluice?.stop())

  it('is taken while the split gives way, then ingested whole', async () => {
    sluice = await startSluiceProcess()
    const running = sluice
    const secondsGivenWay = async () =>
      Number(gaveWay.exec(await (await fetch(`${running.url}/metrics`)).text())?.[1] ?? Number.NaN)
    expect(await secondsGivenWay()).toBe(0)

    const status = async () => (await running.api<IngestionStatus>('/api/ingestion_status/')).body
    // (capture's thread may still be busy with its first requests' compiling for a moment)
    await eventually(
      async () => ((await status()).capture_saturated === false ? true : undefined),
      10_000,
      'capture at rest',
    )

    // 16 clients sending single events as fast as capture answers: its thread has all it can take
    // (autocannon's answer is only a thenable)
    const load = Promise.resolve(
      autocannon({
        url: `${running.url}/e/`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          api_key: running.credentials.project_token,
          event: 'burst',
          distinct_id: 'burst-user',
          properties: { $lib: 'web' },
        }),
        connections,
        duration: 3,
      }),
    )
    // what an operator asking meanwhile is told
    const seen: (boolean | null)[] = []
    let loading = true
    const loaded = () => {
      loading = false
    }
    load.then(loaded, loaded)
    while (loading) {
      seen.push((await status()).capture_saturated)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const burst = await load
    expect(seen).toContain(true)
    expect(burst.errors).toBe(0)
    expect(burst.non2xx).toBe(0)
    const accepted = burst['2xx']
    expect(accepted).toBeGreaterThan(1000)

    // the split waited while capture was saturated — and every event it then split is queryable
    await eventually(
      async () => ((await secondsGivenWay()) > 0 ? true : undefined),
      10_000,
      'the split to give way',
    )
    await eventually(
      async () => {
        const { consumers, capture_saturated } = await status()
        return !capture_saturated && consumers.every((consumer) => consumer.lag === 0) ? true : undefined
      },
      120_000,
      'ingestion to catch up',
      running.output,
    )
    const { body } = await running.api<{ results: { id: string }[] }>(
      `/api/projects/${running.credentials.project_id}/events/?event=burst&limit=100000`,
    )
    // every answered event, and those in flight when the load stopped (answered after it counted)
    expect(body.results.length).toBeGreaterThanOrEqual(accepted)
    expect(body.results.length).toBeLessThanOrEqual(accepted + connections)
    expect(new Set(body.results.map((event) => event.id)).size).toBe(body.results.length)
    expect((await fetch(`${running.url}/_readiness`)).status).toBe(200)
  })
})
