import { setTimeout as sleep } from 'node:timers/promises'
import { livePollMs, liveWindowMs } from '../console/live/polling.ts'
import { launchChromium, signIn, watchedPage } from '../tests/support/console-browser.ts'
import { startSluiceChild } from './child-server.ts'
import { percentile, printTable } from './report.ts'

const polls = 200

/**
 * What the console's live events cost and how soon they show, to decide between polling and a
 * server push. The page asks the events API for the newest 100 once, then every second for the
 * newest 100 of the last minutes, as the console does; measured on an idle embedded sluice holding
 * 0, 10 000 and 100 000 events of the last 30 days: each request's time and the server's CPU per request. Then, in
 * Chromium, the time from capture's 200 to the event's row in the page.
 */
export async function consoleBench(): Promise<void> {
  const { server, token, key } = await startSluiceChild()
  const headers = { authorization: `Bearer ${key}` }
  const rows: (string | number)[][] = []
  try {
    let stored = 0
    for (const size of [0, 10_000, 100_000]) {
      process.stdout.write(`${size} events stored: `)
      for (; stored < size; stored += 1000) await send(server.url, token, 1000, stored)
      await caughtUp(server.url, headers)
      // the first load asks for the newest 100; every poll after it only for those of the last minutes
      const window = new Date(Date.now() - liveWindowMs).toISOString()
      for (const [shape, query] of [
        ['first load', '?limit=100'],
        ['poll', `?limit=100&after=${window}`],
      ] as const) {
        const times: number[] = []
        const cpuBefore = server.cpuSeconds()
        for (let i = 0; i < polls; i++) {
          const started = performance.now()
          const response = await fetch(`${server.url}/api/projects/1/events/${query}`, { headers })
          await response.arrayBuffer()
          if (response.status !== 200) throw new Error(`the events API answered ${response.status}`)
          times.push(performance.now() - started)
        }
        const cpuAfter = server.cpuSeconds()
        const cpuMs =
          cpuBefore === null || cpuAfter === null ? Number.NaN : ((cpuAfter - cpuBefore) * 1000) / polls
        rows.push([
          `${shape}, ${size.toLocaleString('en')} events stored`,
          polls,
          ms(percentile(times, 50)),
          ms(percentile(times, 99)),
          `${cpuMs.toFixed(1)} ms`,
          shape === 'poll' ? `${((cpuMs / livePollMs) * 100).toFixed(1)} %` : '(once)',
        ])
      }
      console.log('measured')
    }

    process.stdout.write('capture → shown in the console (Chromium): ')
    const browser = await launchChromium()
    const shown: number[] = []
    try {
      const { page } = await watchedPage(browser, server.url)
      await page.goto(server.url)
      await signIn(page, key)
      await page.locator('li.event').first().waitFor()
      for (let i = 0; i < 20; i++) {
        const name = `bench_live_${i}`
        const response = await fetch(`${server.url}/batch/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ api_key: token, batch: [{ event: name, distinct_id: 'bench-live' }] }),
        })
        if (response.status !== 200) throw new Error(`capture answered ${response.status}`)
        const captured = performance.now()
        await page.locator('.event-name', { hasText: name }).waitFor({ timeout: 30_000 })
        shown.push(performance.now() - captured)
        // the next event lands at another moment of the page's polling cycle
        await sleep(137 + ((i * 211) % 600))
      }
    } finally {
      await browser.close()
    }
    console.log('measured')
    printTable(
      ['measure', 'samples', 'p50', 'p99', 'server CPU per poll', 'of a core, one console open'],
      rows,
    )
    console.log()
    printTable(
      ['measure', 'samples', 'p50', 'p99', 'max'],
      [
        [
          `capture 200 → row in the page (polling every ${livePollMs} ms)`,
          shown.length,
          ms(percentile(shown, 50)),
          ms(percentile(shown, 99)),
          ms(Math.max(...shown)),
        ],
      ],
    )
  } finally {
    await server.stop()
  }
}

async function send(url: string, token: string, count: number, first: number): Promise<void> {
  // a project's month: the stored events spread over the last 30 days, as they would have arrived
  const now = Date.now()
  const batch = Array.from({ length: count }, (_, i) => ({
    timestamp: new Date(now - (((first + i) * 7919 * 1000) % (30 * 86_400_000)) - 600_000).toISOString(),
    event: i % 3 === 0 ? 'signed_up' : '$pageview',
    distinct_id: `user-${(first + i) % 5000}`,
    properties: { $current_url: `https://shop.example/${i % 50}`, plan: 'pro' },
  }))
  const response = await fetch(`${url}/batch/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ api_key: token, batch }),
  })
  if (response.status !== 200) throw new Error(`capture answered ${response.status}`)
}

/** Waits until every consumer has caught up, so the polls measure an idle instance. */
async function caughtUp(url: string, headers: Record<string, string>): Promise<void> {
  const deadline = performance.now() + 300_000
  for (;;) {
    const response = await fetch(`${url}/api/ingestion_status/`, { headers })
    const status = (await response.json()) as { consumers: { lag: number | null }[] }
    if (status.consumers.every((c) => c.lag === 0)) return
    if (performance.now() > deadline) throw new Error('ingestion did not catch up within 5 minutes')
    await sleep(250)
  }
}

const ms = (value: number) => `${value.toFixed(1)} ms`
