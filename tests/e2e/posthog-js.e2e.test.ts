import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromiumArgs, chromiumAvailable, chromiumPath } from '../support/chromium.ts'
import { eventually, type SluiceProcess, startSluiceProcess } from '../support/sluice-process.ts'

const posthogJs = readFileSync(new URL('../../node_modules/posthog-js/dist/array.js', import.meta.url))

interface EventResult {
  event: string
  distinct_id: string
  properties: Record<string, unknown>
  elements_chain: string
  elements: Record<string, unknown>[]
  person_id: string
}

/**
 * posthog-js in Debian's headless Chromium, on a page whose origin differs from sluice's (as on
 * a real site): remote config, CORS, gzip bodies without any hint, autocapture and identify.
 */
describe('posthog-js in a browser talking to sluice', () => {
  const runs = chromiumAvailable()
  let sluice: SluiceProcess
  let site: Server
  let browser: Browser
  let page: Page
  const captureRequests: { url: string; contentType: string | undefined; gzip: boolean }[] = []

  beforeAll(async () => {
    if (!runs) return
    sluice = await startSluiceProcess()
    site = createServer((request, response) => {
      if (request.url === '/array.js') {
        response.writeHead(200, { 'content-type': 'application/javascript' }).end(posthogJs)
        return
      }
      response.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><html><body>
        <button id="buy" class="btn primary" data-attr="buy-button">Buy now</button>
        <script src="/array.js"></script>
        <script>
          posthog.init(${JSON.stringify(sluice.credentials.project_token)}, {
            api_host: ${JSON.stringify(sluice.url)},
            persistence: 'memory',
            opt_out_useragent_filter: true,
          })
        </script></body></html>`)
    })
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs })
    page = await browser.newPage()
    page.on('request', (request) => {
      if (!request.url().startsWith(`${sluice.url}/e/`)) return
      const body = request.postDataBuffer()
      captureRequests.push({
        url: request.url(),
        contentType: request.headers()['content-type'],
        gzip: body !== null && body[0] === 0x1f && body[1] === 0x8b,
      })
    })
    const config = page.waitForResponse((r) => r.url().includes('/array/') && r.url().includes('/config'))
    await page.goto(`http://127.0.0.1:${(site.address() as AddressInfo).port}/`)
    expect((await config).status()).toBe(200)
  })
  afterAll(async () => {
    await browser?.close()
    site?.close()
    await sluice?.stop()
  })

  const eventsNamed = async (event: string) =>
    (
      await sluice.api<{ results: EventResult[] }>(
        `/api/projects/${sluice.credentials.project_id}/events/?event=${encodeURIComponent(event)}`,
      )
    ).body.results

  it('captures page views, custom events and autocaptured clicks, gzipped without a hint', async (ctx) => {
    if (!runs) return ctx.skip()
    await page.waitForFunction(
      () => (globalThis as unknown as { posthog?: { __loaded?: boolean } }).posthog?.__loaded === true,
    )
    await page.evaluate(() =>
      (globalThis as unknown as { posthog: { capture(e: string, p: object): void } }).posthog.capture(
        'clicked_pricing',
        { plan: 'pro' },
      ),
    )
    await page.click('#buy')

    const custom = await eventually(
      async () => (await eventsNamed('clicked_pricing'))[0],
      60_000,
      'the custom event',
    )
    expect(custom.properties).toMatchObject({ plan: 'pro', $lib: 'web' })
    const click = await eventually(
      async () => (await eventsNamed('$autocapture'))[0],
      60_000,
      'the autocaptured click',
    )
    expect(click.properties.$event_type).toBe('click')
    // the clicked element, readable as PostHog's API gives it
    expect(click.elements_chain).toMatch(/^button\.btn\.primary:.*attr__data-attr="buy-button"/)
    expect(click.elements[0]).toMatchObject({
      tag_name: 'button',
      attr_class: ['btn', 'primary'],
      attr_id: 'buy',
      text: 'Buy now',
      attributes: { 'attr__data-attr': 'buy-button' },
      order: 0,
    })
    expect(await eventsNamed('$pageview')).not.toHaveLength(0)

    expect(captureRequests.length).toBeGreaterThan(0)
    expect(captureRequests.every((r) => r.gzip && !r.url.includes('compression='))).toBe(true)
  })

  it('identify gives the anonymous visitor a person holding both ids', async (ctx) => {
    if (!runs) return ctx.skip()
    const anonymousId = await page.evaluate(() =>
      (globalThis as unknown as { posthog: { get_distinct_id(): string } }).posthog.get_distinct_id(),
    )
    await page.evaluate(() =>
      (globalThis as unknown as { posthog: { identify(id: string, set: object): void } }).posthog.identify(
        'browser-user-1',
        { email: 'b@example.com' },
      ),
    )
    const person = await eventually(
      async () =>
        (
          await sluice.api<{
            results: { distinct_ids: string[]; properties: Record<string, unknown>; is_identified: boolean }[]
          }>(`/api/projects/${sluice.credentials.project_id}/persons/?distinct_id=browser-user-1`)
        ).body.results.find(
          (p) => p.distinct_ids.includes(anonymousId) && p.is_identified && p.properties.email,
        ),
      60_000,
      'the identified person',
    )
    expect(person.distinct_ids.sort()).toEqual([anonymousId, 'browser-user-1'].sort())
    expect(person.is_identified).toBe(true)
    expect(person.properties).toMatchObject({ email: 'b@example.com' })
  })
})
