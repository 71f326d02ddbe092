import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromiumAvailable } from '../support/chromium.ts'
import { launchChromium, signIn, type WatchedPage, watchedPage } from '../support/console-browser.ts'
import { appendPoisonCommands } from '../support/poison-commands.ts'
import { eventually, type SluiceProcess, startSluiceProcess } from '../support/sluice-process.ts'

type Letter = { id: string; code: string; replayed_at: string | null }
type Consumer = { group: string; topic: string; partition: number; end_offset: number; lag: number }

/**
 * The console in Debian's Chromium against a running sluice, as an operator uses it: signing in,
 * watching events arrive, understanding a merged person, ingestion's health and its dead letters,
 * flags and apps — with no console error and no request leaving sluice's origin.
 */
describe('the console', () => {
  const runs = chromiumAvailable()
  let dataDir: string
  let sluice: SluiceProcess
  let browser: Browser
  let watched: WatchedPage
  let page: Page
  const projectPath = () => `/api/projects/${sluice.credentials.project_id}`

  async function capture(batch: object[]) {
    const response = await fetch(`${sluice.url}/batch/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ api_key: sluice.credentials.project_token, batch }),
    })
    expect(response.status).toBe(200)
  }

  beforeAll(async () => {
    if (!runs) return
    // two commands ingest cannot process wait in the log: real dead letters, and still no event
    dataDir = await mkdtemp(join(tmpdir(), 'sluice-console-'))
    const first = await startSluiceProcess({ dataDir })
    await first.stop()
    await appendPoisonCommands(dataDir, first.credentials.project_token)
    sluice = await startSluiceProcess({ dataDir, credentials: first.credentials })
    browser = await launchChromium()
    watched = await watchedPage(browser, sluice.url)
    page = watched.page
  })
  afterAll(async () => {
    await browser?.close()
    await sluice?.stop()
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  it('asks once for the personal API key, says clearly when a key is wrong, and keeps it for the session', async (ctx) => {
    if (!runs) return ctx.skip()
    await page.goto(`${sluice.url}/`)
    // from the keyboard: the field has the focus, a key is typed, Enter tries it
    await page.keyboard.type('phx_not-a-key-of-this-sluice')
    await page.keyboard.press('Enter')
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toContain('sluice does not know this personal API key')
    // Chromium reports the refused request itself as a console error: that one, and only it
    expect(watched.errors).toHaveLength(1)
    expect(watched.errors[0]).toContain('401')
    watched.errors.length = 0

    await page.getByLabel('Personal API key').fill(sluice.credentials.personal_api_key)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Live events' }).waitFor()
    await page.reload()
    await page.getByRole('heading', { name: 'Live events' }).waitFor()
    expect(await page.getByLabel('Personal API key').count()).toBe(0)
  })

  it('shows an empty project how to send its first event, then each new event without a reload', async (ctx) => {
    if (!runs) return ctx.skip()
    await page.getByText('Waiting for the first event…').waitFor()
    const guide = await page.locator('.first-event').textContent()
    expect(guide).toContain(sluice.credentials.project_token)
    expect(guide).toContain(
      `posthog.init('${sluice.credentials.project_token}', { api_host: '${sluice.url}' })`,
    )
    expect(guide).toContain(`curl -s ${sluice.url}/batch/`)

    let loads = 0
    page.on('load', () => loads++)
    await capture([
      {
        event: 'signed_up',
        distinct_id: 'ada',
        properties: { plan: 'pro', $set: { email: 'ada@example.com' } },
      },
    ])
    const row = page.getByRole('button', { name: /signed_up/ })
    await row.waitFor({ timeout: 15_000 })
    expect(await page.getByText('Waiting for the first event…').count()).toBe(0)

    await capture([{ event: 'upgraded', distinct_id: 'ada', properties: { to: 'enterprise' } }])
    await page.getByRole('button', { name: /upgraded/ }).waitFor({ timeout: 15_000 })
    expect(await page.locator('li.event .event-name').allTextContents()).toEqual(['upgraded', 'signed_up'])
    expect(loads).toBe(0)

    // properties on click, from the keyboard too
    await row.focus()
    await page.keyboard.press('Enter')
    expect(await row.getAttribute('aria-expanded')).toBe('true')
    const properties = page.getByRole('table', { name: 'Properties of signed_up' })
    expect(await properties.getByRole('row', { name: /plan/ }).textContent()).toContain('pro')

    // filtered by event name: the URL says so, and only those are listed
    await page.getByLabel('Event name').fill('upgraded')
    await page.getByLabel('Event name').press('Enter')
    await expect.poll(() => page.locator('li.event .event-name').allTextContents()).toEqual(['upgraded'])
    expect(new URL(page.url()).search).toBe('?event=upgraded')
    // an event of long ago is found as soon as it is asked for
    const lastYear = new Date(Date.now() - 365 * 86_400_000).toISOString()
    await capture([{ event: 'imported_order', distinct_id: 'ada', timestamp: lastYear }])
    await eventually(async () => {
      const { body } = await sluice.api<{ results: unknown[] }>(
        `${projectPath()}/events/?event=imported_order`,
      )
      return body.results.length === 1 ? true : undefined
    })
    await page.getByLabel('Event name').fill('imported_order')
    await page.getByLabel('Event name').press('Enter')
    await expect
      .poll(() => page.locator('li.event .event-name').allTextContents())
      .toEqual(['imported_order'])
    await page.getByLabel('Event name').fill('')
    await page.getByLabel('Distinct id').fill('nobody')
    await page.getByLabel('Distinct id').press('Enter')
    await page.getByText('No event from “nobody” yet').waitFor()
  })

  it('shows a merged person with both ids, the merge in its timeline, and the events of both', async (ctx) => {
    if (!runs) return ctx.skip()
    await capture([
      { event: '$pageview', distinct_id: 'anon-1', properties: { $current_url: 'https://shop.example/' } },
    ])
    await eventually(async () => {
      const { body } = await sluice.api<{ results: unknown[] }>(
        `${projectPath()}/persons/?distinct_id=anon-1`,
      )
      return body.results.length === 1 ? true : undefined
    })
    await capture([{ event: '$identify', distinct_id: 'ada', properties: { $anon_distinct_id: 'anon-1' } }])
    const merged = await eventually(async () => {
      const { body } = await sluice.api<{ results: { uuid: string; distinct_ids: string[] }[] }>(
        `${projectPath()}/persons/?distinct_id=anon-1`,
      )
      const person = body.results[0]
      return person?.distinct_ids.includes('ada') ? person : undefined
    })

    await page.getByRole('link', { name: 'Persons' }).click()
    await page.getByLabel('Distinct id or email').fill('ada@example')
    await page.getByLabel('Distinct id or email').press('Enter')
    await page.getByRole('link', { name: 'ada@example.com' }).click()
    await page.getByRole('heading', { name: 'ada@example.com' }).waitFor()
    expect(new URL(page.url()).pathname).toBe(`/console/persons/${merged.uuid}`)

    const ids = await page.getByRole('list', { name: 'Distinct ids' }).getByRole('listitem').allTextContents()
    expect(ids.sort()).toEqual(['ada', 'anon-1'])
    const timeline = page.locator('ol.timeline > li')
    await timeline.first().waitFor()
    expect(await timeline.count()).toBe(1)
    const merge = await timeline.first().textContent()
    expect(merge).toContain('$identify')
    expect(merge).toMatch(/ids that came along:\s*anon-1/)
    await expect
      .poll(() => page.locator('li.event .event-name').allTextContents())
      .toEqual(expect.arrayContaining(['$identify', '$pageview', 'upgraded', 'signed_up']))
  })

  it('shows the lag of every consumer, events_plugin_ingestion among them, and replays a dead letter', async (ctx) => {
    if (!runs) return ctx.skip()
    await page.goto(`${sluice.url}/console/ingestion`)
    const rows = page.locator('table.consumers tbody tr', { hasText: 'events_plugin_ingestion' })
    await rows.first().waitFor()
    const status = await eventually(async () => {
      const { body } = await sluice.api<{ consumers: Consumer[] }>('/api/ingestion_status/')
      const commands = body.consumers.filter((c) => c.topic === 'events_plugin_ingestion')
      return commands.every((c) => c.lag === 0) ? commands : undefined
    })
    await expect
      .poll(async () =>
        (await rows.allInnerTexts()).map((text) =>
          text
            .split('\t')
            .slice(0, 6)
            .map((cell) => cell.trim()),
        ),
      )
      .toEqual(
        status.map((c) => [
          'ingest',
          c.topic,
          String(c.partition),
          String(c.end_offset),
          String(c.end_offset),
          '0',
        ]),
      )

    const letters = page.locator('table.letters tbody tr')
    await expect.poll(() => letters.count()).toBe(2)
    expect(await page.locator('table.letters').textContent()).toContain('database_refused')
    const refused = letters.filter({ hasText: 'database_refused' })
    await refused.getByRole('button', { name: /Replay the dead letter/ }).click()
    await page.getByText('Replayed 1 dead letter').waitFor()
    // (the replayed letter shows when it was replayed; the new letter it becomes may already be listed above it)
    await letters.filter({ hasText: /replayed \d/ }).waitFor()
    const { body } = await sluice.api<{ results: Letter[] }>(`${projectPath()}/dead_letters/`)
    const replayed = body.results.filter((l) => l.replayed_at !== null)
    expect(replayed.map((l) => l.code)).toEqual(['database_refused'])
    // sent through ingestion again, it is refused again: a new letter shows by itself
    await expect.poll(() => letters.count(), { timeout: 20_000 }).toBe(3)
  })

  it('creates, edits and switches a feature flag through the flags API', async (ctx) => {
    if (!runs) return ctx.skip()
    await page.getByRole('link', { name: 'Flags' }).click()
    await page.getByRole('link', { name: 'New flag' }).click()
    await page.getByLabel('Key').fill('new-checkout')
    await page.getByLabel('Release conditions').fill('{"groups": [')
    await page.getByRole('button', { name: 'Create flag' }).click()
    await page.getByText('The release conditions are not JSON').waitFor()
    await page
      .getByLabel('Release conditions')
      .fill('{"groups": [{"properties": [], "rollout_percentage": 30}]}')
    await page.getByRole('button', { name: 'Create flag' }).click()
    const row = page.getByRole('row', { name: /new-checkout/ })
    await row.waitFor()
    expect(await row.textContent()).toContain('30% of persons')

    await row.getByRole('switch').click()
    await expect.poll(async () => (await flags())[0]?.active).toBe(false)
    await row.getByRole('link', { name: 'new-checkout' }).click()
    await page.getByLabel('Name').fill('The new checkout')
    await page.getByRole('button', { name: 'Save flag' }).click()
    await page.getByRole('row', { name: /The new checkout/ }).waitFor()
    expect(await flags()).toMatchObject([
      {
        key: 'new-checkout',
        name: 'The new checkout',
        active: false,
        filters: { groups: [{ rollout_percentage: 30 }] },
      },
    ])
  })

  it('creates, edits and switches an app through the apps API', async (ctx) => {
    if (!runs) return ctx.skip()
    await page.getByRole('link', { name: 'Apps' }).click()
    await page.getByRole('link', { name: 'New app' }).click()
    await page.getByLabel('Name').fill('tag plan')
    await page.getByLabel('Config (JSON)').fill('{"tag": "console"}')
    await page.getByRole('button', { name: 'Create app' }).click()
    const row = page.getByRole('row', { name: /tag plan/ })
    await row.waitFor()
    const [created] = await apps()
    expect(created).toMatchObject({ name: 'tag plan', enabled: true, version: 1, config: { tag: 'console' } })

    await row.getByRole('switch').click()
    await expect.poll(async () => (await apps())[0]?.enabled).toBe(false)
    await row.getByRole('link', { name: 'tag plan' }).click()
    const source =
      'export function processEvent(event, { config }) {\n  event.properties.tag = config.tag\n  return event\n}\n'
    await page.getByLabel('Source').fill(source)
    await page.getByRole('button', { name: 'Save app' }).click()
    await page.getByRole('heading', { name: 'Apps' }).waitFor()
    expect(await apps()).toMatchObject([{ name: 'tag plan', enabled: false, version: 2, source }])
  })

  it('opens every view from its URL, readable on a phone, with no error and nothing from another origin', async (ctx) => {
    if (!runs) return ctx.skip()
    const [flag] = await flags()
    const [app] = await apps()
    const { body } = await sluice.api<{ results: { uuid: string }[] }>(
      `${projectPath()}/persons/?distinct_id=ada`,
    )
    const views: [string, string][] = [
      ['/', 'Live events'],
      ['/console/events?event=upgraded', 'Live events'],
      ['/console/persons', 'Persons'],
      [`/console/persons/${body.results[0]?.uuid}`, 'ada@example.com'],
      ['/console/ingestion', 'Ingestion'],
      ['/console/flags', 'Feature flags'],
      [`/console/flags/${flag?.id}`, 'Flag new-checkout'],
      ['/console/apps', 'Apps'],
      [`/console/apps/${app?.id}`, 'App tag plan'],
    ]
    const phone = await watchedPage(browser, sluice.url, { width: 390, height: 844 })
    for (const viewer of [page, phone.page]) {
      for (const [path, title] of views) {
        await viewer.goto(`${sluice.url}${path}`)
        if (viewer === phone.page && path === '/') await signIn(viewer, sluice.credentials.personal_api_key)
        await viewer.getByRole('heading', { level: 1, name: title }).waitFor()
        const overflow = await viewer.evaluate<number>(
          'document.documentElement.scrollWidth - window.innerWidth',
        )
        expect(overflow, `${path} is wider than the window`).toBeLessThanOrEqual(0)
      }
    }
    await phone.page.close()
    expect([...watched.errors, ...phone.errors]).toEqual([])
    expect([...watched.foreignRequests, ...phone.foreignRequests]).toEqual([])
  })

  const flags = async () =>
    (
      await sluice.api<{ results: { id: number; key: string; name: string; active: boolean }[] }>(
        `${projectPath()}/feature_flags/`,
      )
    ).body.results
  const apps = async () =>
    (
      await sluice.api<{ results: { id: number; name: string; enabled: boolean; version: number }[] }>(
        `${projectPath()}/apps/`,
      )
    ).body.results
})
