import { existsSync } from 'node:fs'
import { serviceAvailable } from './services.ts'

/** Debian's Chromium (never a downloaded browser); CI installs it, a laptop may not have it. */
export const chromiumPath = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium'

export function chromiumAvailable(): boolean {
  return serviceAvailable(
    'Chromium',
    existsSync(chromiumPath),
    `${chromiumPath} is missing; apt-get install chromium`,
  )
}

/** Flags for a headless Chromium on a machine with no network beyond loopback. */
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
]
