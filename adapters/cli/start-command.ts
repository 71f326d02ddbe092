import type { Logger } from '../../ports/logger.ts'
import type { SluiceConfig } from '../runtime/config.ts'
import { startSluice } from '../runtime/start.ts'

export async function runStart(config: SluiceConfig, logger: Logger): Promise<void> {
  const started = performance.now()
  const sluice = await startSluice(config, logger)
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  console.log(`sluice is running at ${sluice.url} (roles: ${config.roles.join(', ')}; ready in ${seconds}s)`)
  console.log(`  data dir:          ${config.dataDir}`)
  console.log(`  backends:          ${describeBackends(config)}`)
  console.log(`  project token:     ${sluice.defaultProject.project.apiToken}`)
  const personalApiKey = sluice.defaultProject.personalApiKey
  if (personalApiKey !== null) console.log(`  personal API key:  ${personalApiKey}`)
  console.log('Press Ctrl+C to stop.')

  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'stopping')
    await sluice.stop()
    process.exit(0)
  }
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
}

function describeBackends(config: SluiceConfig): string {
  return [
    config.kafkaBrokers ? `Kafka ${config.kafkaBrokers.join(',')}` : 'embedded log',
    config.postgresUrl ? 'PostgreSQL' : 'PGlite',
    config.clickhouseUrl ? `ClickHouse ${config.clickhouseUrl}` : 'chDB',
  ].join(', ')
}
