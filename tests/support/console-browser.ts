import { type Browser, chromium, type Page } from 'playwright-core'
import { chromiumArgs, chromiumPath } from './chromium.ts'

/** A page of the console in Debian's Chromium, watched for what must not happen. */
export interface WatchedPage {
  page: Page
  /** Console errors and uncaught exceptions, in order. */
  errors: string[]
  /** Every request to another origin than sluice's. */
  foreignRequests: string[]
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs })
}

export async function watchedPage(
  browser: Browser,
  sluiceUrl: string,
  viewport = { width: 1280, height: 800 },
): Promise<WatchedPage> {
  const page = await browser.newPage({ viewport })
  const origin = new URL(sluiceUrl).origin
  const watched: WatchedPage = { page, errors: [], foreignRequests: [] }
  page.on('console', (message) => {
    if (message.type() === 'error') watched.errors.push(`${message.text()} (${message.location().url})`)
  })
  page.on('pageerror', (error) => watched.errors.push(`uncaught: ${error.message}`))
  page.on('request', (request) => {
    const url = new URL(request.url())
    if (url.origin !== origin) watched.foreignRequests.push(request.url())
  })
  return watched
}

/** Signs in as a person would: the key typed into the field labelled for it, then Enter. */
export async function signIn(page: Page, key: string): Promise<void> {
  await page.getByLabel('Personal API key').fill(key)
  await page.keyboard.press('Enter')
  await page.getByRole('navigation', { name: 'Views' }).waitFor()
}
