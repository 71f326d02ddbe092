import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromiumArgs, chromiumAvailable, chromiumPath } from '../support/chromium.ts'
import { eventually, type SluiceProcess, startSluiceProcess } from '../support/sluice-process.ts'

const posthogJs = readFileSync(new URL('../../node_modules/posthog-js/dist/array.js', import.meta.url))

/** What the page's posthog-js exposes that these tests use. */
interface BrowserPostHog {
  onFeatureFlags(callback: () => void): void
  getFeatureFlag(key: string, options?: { send_event?: boolean }): boolean | string | undefined
  getFeatureFlagPayload(key: string): unknown
  isFeatureEnabled(key: string): boolean | undefined
  identify(id: string): void
  get_distinct_id(): string
}
declare const posthog: BrowserPostHog

interface EventResult {
  event: string
  distinct_id: string
  properties: Record<string, unknown>
}

const split = {
  groups: [{ properties: [], rollout_percentage: 100 }],
  multivariate: {
    variants: ['a', 'b', 'c', 'd'].map((key) => ({ key, rollout_percentage: 25 })),
  },
}

/**
 * posthog-js in Debian's Chromium, on a page of another origin: it loads its config from sluice,
 * sees flags made through sluice's API, reports `$feature_flag_called`, and keeps a continuity
 * flag's variant when the visitor identifies.
 */
describe('posthog-js feature flags in a browser, served by sluice', () => {
  const runs = chromiumAvailable()
  let sluice: SluiceProcess
  let site: Server
  let browser: Browser
  let page: Page
  let anonymousId = ''
  const identifiedId = 'browser-flags-user'
  const flagRequests: { gzip: boolean; contentType: string | undefined }[] = []

  const flagsFor = async (distinctId: string) => {
    const response = await fetch(`${sluice.url}/flags/?v=2`, {
      method: 'POST',
      body: JSON.stringify({ token: sluice.credentials.project_token, distinct_id: distinctId }),
    })
    return ((await response.json()) as { flags: Record<string, { variant: string | null }> }).flags
  }

  beforeAll(async () => {
    if (!runs) return
    sluice = await startSluiceProcess()
    const base = `/api/projects/${sluice.credentials.project_id}/feature_flags/`
    for (const flag of [
      {
        key: 'browser-beta',
        filters: { groups: [{ rollout_percentage: 100 }], payloads: { true: '{"banner":"hi"}' } },
      },
      { key: 'browser-experiment', ensure_experience_continuity: true, filters: split },
    ]) {
      const made = await sluice.api(base, { method: 'POST', body: JSON.stringify(flag) })
      expect(made.status).toBe(201)
    }
    // An anonymous id whose variant differs from the identified id's own, so continuity can fail.
    const identifiedVariant = (await flagsFor(identifiedId))['browser-experiment']?.variant
    for (let i = 0; anonymousId === ''; i++)
      if ((await flagsFor(`browser-anon-${i}`))['browser-experiment']?.variant !== identifiedVariant)
        anonymousId = `browser-anon-${i}`

    site = createServer((request, response) => {
      if (request.url === '/array.js') {
        response.writeHead(200, { 'content-type': 'application/javascript' }).end(posthogJs)
        return
      }
      response.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><html><body>
        <script src="/array.js"></script>
        <script>
          posthog.init(${JSON.stringify(sluice.credentials.project_token)}, {
            api_host: ${JSON.stringify(sluice.url)},
            persistence: 'memory',
            opt_out_useragent_filter: true,
            bootstrap: { distinctID: ${JSON.stringify(anonymousId)} },
          })
        </script></body></html>`)
    })
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs })
    page = await browser.newPage()
    page.on('request', (request) => {
      if (!request.url().startsWith(`${sluice.url}/flags/`)) return
      const body = request.postDataBuffer()
      flagRequests.push({
        gzip: body !== null && body[0] === 0x1f && body[1] === 0x8b,
        contentType: request.headers()['content-type'],
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

  const flagsLoaded = () =>
    page.evaluate(() => new Promise<void>((resolve) => posthog.onFeatureFlags(() => resolve())))

  it('loads config saying there are flags, then gets them from /flags (gzip, no hint, other origin)', async (ctx) => {
    if (!runs) return ctx.skip()
    await flagsLoaded()
    expect(await page.evaluate(() => posthog.getFeatureFlag('browser-beta', { send_event: false }))).toBe(
      true,
    )
    expect(await page.evaluate(() => posthog.getFeatureFlagPayload('browser-beta'))).toEqual({ banner: 'hi' })
    expect(flagRequests.length).toBeGreaterThan(0)
    expect(flagRequests.every((r) => r.gzip)).toBe(true)
  })

  it('$feature_flag_called arrives as an event when the page checks a flag', async (ctx) => {
    if (!runs) return ctx.skip()
    expect(await page.evaluate(() => posthog.isFeatureEnabled('browser-beta'))).toBe(true)
    const called = await eventually(
      async () => {
        const response = await sluice.api<{ results: EventResult[] }>(
          `/api/projects/${sluice.credentials.project_id}/events/?event=%24feature_flag_called`,
        )
        return response.body.results.find((e) => e.properties.$feature_flag === 'browser-beta')
      },
      60_000,
      'the $feature_flag_called event',
    )
    expect(called.distinct_id).toBe(anonymousId)
    expect(called.properties).toMatchObject({ $feature_flag: 'browser-beta', $feature_flag_response: true })
  })

  it('keeps the continuity flag’s variant when the visitor identifies', async (ctx) => {
    if (!runs) return ctx.skip()
    const before = await page.evaluate(() =>
      posthog.getFeatureFlag('browser-experiment', { send_event: false }),
    )
    expect(before).toBe((await flagsFor(anonymousId))['browser-experiment']?.variant)
    const reloaded = page.waitForResponse((r) => r.url().startsWith(`${sluice.url}/flags/`))
    await page.evaluate((id) => posthog.identify(id), identifiedId)
    await reloaded
    await flagsLoaded()
    expect(await page.evaluate(() => posthog.get_distinct_id())).toBe(identifiedId)
    expect(
      await page.evaluate(() => posthog.getFeatureFlag('browser-experiment', { send_event: false })),
    ).toBe(before)
    // and sluice stored it: later requests without the anonymous id get it too
    expect((await flagsFor(identifiedId))['browser-experiment']?.variant).toBe(before)
  })
})
