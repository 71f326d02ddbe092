/**
 * `npm run screenshots`: the console's views as the README shows them (docs/console/*.png), taken in
 * Debian's Chromium from a sluice started on a fresh data dir and sent a small, made-up shop's traffic.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { launchChromium, signIn, watchedPage } from '../tests/support/console-browser.ts'
import { appendPoisonCommands } from '../tests/support/poison-commands.ts'
import { eventually, type SluiceProcess, startSluiceProcess } from '../tests/support/sluice-process.ts'

const out = new URL('../docs/console/', import.meta.url).pathname
await mkdir(out, { recursive: true })
const dataDir = await mkdtemp(join(tmpdir(), 'sluice-screenshots-'))
const first = await startSluiceProcess({ dataDir })
await first.stop()
await appendPoisonCommands(dataDir, first.credentials.project_token)
const sluice = await startSluiceProcess({ dataDir, credentials: first.credentials })
const browser = await launchChromium()
try {
  const { page, errors, foreignRequests } = await watchedPage(browser, sluice.url)
  const shoot = (name: string, target: Page = page, fullPage = false) =>
    target.screenshot({ path: join(out, `${name}.png`), fullPage })

  await page.goto(sluice.url)
  await shoot('sign-in')
  await signIn(page, sluice.credentials.personal_api_key)
  await page.getByText('Waiting for the first event…').waitFor()
  await shoot('first-event')

  await sendShopTraffic(sluice)
  await page
    .getByRole('button', { name: /\$pageview.*anon-7f3a/ })
    .first()
    .waitFor({ timeout: 30_000 })
  await page.waitForTimeout(1500)
  await page
    .getByRole('button', { name: /purchased/ })
    .first()
    .click()
  await shoot('live-events')

  const ada = await eventually(async () => {
    const { body } = await sluice.api<{ results: { uuid: string; distinct_ids: string[] }[] }>(
      `/api/projects/${sluice.credentials.project_id}/persons/?distinct_id=anon-7f3a`,
    )
    return body.results[0]?.distinct_ids.includes('ada') ? body.results[0] : undefined
  })
  await page.goto(`${sluice.url}/console/persons/${ada.uuid}`)
  await page.locator('ol.timeline > li').first().waitFor()
  await page.locator('li.event').first().waitFor()
  await shoot('person', page, true)

  await page.goto(`${sluice.url}/console/ingestion`)
  await page.locator('table.letters tbody tr').nth(1).waitFor()
  await shoot('ingestion', page, true)

  await page.goto(`${sluice.url}/console/flags`)
  await page.getByRole('row', { name: /new-checkout/ }).waitFor()
  await shoot('flags')
  await page.goto(`${sluice.url}/console/apps/1`)
  await page.getByRole('heading', { name: 'App tag campaign' }).waitFor()
  await shoot('app')

  const phone = await watchedPage(browser, sluice.url, { width: 390, height: 844 })
  await phone.page.goto(sluice.url)
  await signIn(phone.page, sluice.credentials.personal_api_key)
  await phone.page.locator('li.event').first().waitFor()
  await shoot('live-events-phone', phone.page)

  const problems = [...errors, ...phone.errors, ...foreignRequests, ...phone.foreignRequests]
  if (problems.length > 0)
    throw new Error(`the console misbehaved while being photographed:\n${problems.join('\n')}`)
  console.log(`screenshots written to ${out}`)
} finally {
  await browser.close()
  await sluice.stop()
  await rm(dataDir, { recursive: true, force: true })
}

/** A few visitors of a made-up shop; one signs up, which merges her anonymous browsing into her person. */
async function sendShopTraffic(sluice: SluiceProcess): Promise<void> {
  const api = (path: string, body: object) =>
    sluice.api(`/api/projects/${sluice.credentials.project_id}${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
    })
  await api('/feature_flags/', {
    key: 'new-checkout',
    name: 'The new checkout',
    filters: {
      groups: [
        {
          properties: [{ key: 'email', operator: 'icontains', value: '@example.com', type: 'person' }],
          rollout_percentage: 50,
        },
      ],
    },
  })
  await api('/feature_flags/', { key: 'dark-mode', filters: { groups: [{ rollout_percentage: 100 }] } })
  await api('/apps/', {
    name: 'tag campaign',
    config: { campaign: 'winter' },
    source:
      'export function processEvent(event, { config }) {\n  event.properties.campaign = config.campaign\n  return event\n}\n',
  })
  const web = (distinctId: string, url: string) => ({
    event: '$pageview',
    distinct_id: distinctId,
    properties: { $current_url: url, $lib: 'web', $browser: 'Chrome' },
  })
  const send = async (batch: object[]) => {
    const response = await fetch(`${sluice.url}/batch/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ api_key: sluice.credentials.project_token, batch }),
    })
    if (response.status !== 200) throw new Error(`capture answered ${response.status}`)
  }
  await send([
    web('anon-7f3a', 'https://shop.example/'),
    web('anon-91cc', 'https://shop.example/'),
    web('anon-7f3a', 'https://shop.example/winter-boots'),
  ])
  await send([
    {
      event: 'signed_up',
      distinct_id: 'ada',
      properties: { plan: 'pro', $set: { email: 'ada@example.com', name: 'Ada' } },
    },
  ])
  await new Promise((resolve) => setTimeout(resolve, 1500))
  await send([
    { event: '$identify', distinct_id: 'ada', properties: { $anon_distinct_id: 'anon-7f3a' } },
    web('anon-91cc', 'https://shop.example/gloves'),
    {
      event: 'purchased',
      distinct_id: 'ada',
      properties: { item: 'winter boots', price: 129, currency: 'EUR' },
    },
    web('anon-7f3a', 'https://shop.example/thank-you'),
  ])
}
