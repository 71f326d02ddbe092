import type { Logger } from '../../ports/logger.ts'
import type { SluiceConfig } from '../runtime/config.ts'
import { endBySignal, endOnUncaughtErrors, outliveLostOutput } from '../runtime/process-end.ts'
import { type RunningSluice, startSluice } from '../runtime/start.ts'

/**
 * `sluice start`: runs until Ctrl-C (or SIGTERM). The first stops cleanly — the requests and the
 * batch in hand are finished, the backends closed — saying what it waits for; a second stops at
 * once, which loses nothing acknowledged: a batch in hand is processed again at the next start.
 */
export async function runStart(config: SluiceConfig, logger: Logger): Promise<void> {
  outliveLostOutput()
  endOnUncaughtErrors()
  const interrupt = new AbortController()
  let sluice: RunningSluice | null = null
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    if (interrupt.signal.aborted) {
      console.error(
        `${signal} again: stopping at once; a batch in hand is processed again at the next start.`,
      )
      endBySignal(signal)
    }
    interrupt.abort()
    if (sluice === null)
      console.error(
        'Stopping: sluice was still starting; closing what it opened (Ctrl-C again stops at once)…',
      )
    else void stop(sluice)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const started = performance.now()
  sluice = await startSluice(config, logger, { signal: interrupt.signal })
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  console.log(`sluice is running at ${sluice.url} (roles: ${config.roles.join(', ')}; ready in ${seconds}s)`)
  console.log(`  data dir:          ${config.dataDir}`)
  console.log(`  backends:          ${describeBackends(config)}`)
  console.log(`  project token:     ${sluice.defaultProject.project.apiToken}`)
  const personalApiKey = sluice.defaultProject.personalApiKey
  if (personalApiKey !== null) console.log(`  personal API key:  ${personalApiKey}`)
  console.log('Press Ctrl+C to stop.')
}

async function stop(sluice: RunningSluice): Promise<void> {
  console.error(`Stopping: waiting for ${sluice.stopping().join(', ')} (Ctrl-C again stops at once)…`)
  await sluice.stop((what) => console.error(`  still waiting for ${what}…`))
  console.error('Stopped.')
  process.exit(0)
}

function describeBackends(config: SluiceConfig): string {
  return [
    config.kafkaBrokers ? `Kafka ${config.kafkaBrokers.join(',')}` : 'embedded log',
    config.postgresUrl ? 'PostgreSQL' : 'PGlite',
    config.clickhouseUrl ? `ClickHouse ${config.clickhouseUrl}` : 'chDB',
  ].join(', ')
}
