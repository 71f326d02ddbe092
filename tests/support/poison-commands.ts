import { join } from 'node:path'
import { createEmbeddedLog } from '../../adapters/log/embedded/embedded-log.ts'
import type { CaptureCommand } from '../../schema/command.ts'
import { Topics } from '../../schema/topics.ts'

/**
 * Puts into the command log of a stopped sluice two commands ingest cannot process, as another
 * writer or an older release may have left them: one the database refuses (a lone surrogate in a
 * person property) and one nested 6000 deep. Started again, sluice sets both aside as dead letters
 * (the first as `database_refused`) and ingests on.
 */
export async function appendPoisonCommands(dataDir: string, token: string): Promise<void> {
  const now = new Date().toISOString()
  const command = (n: number, distinctId: string, properties: string): CaptureCommand => ({
    uuid: `0190f0a0-0000-7000-8000-${(0xc0de00 + n).toString(16).padStart(12, '0')}`,
    distinct_id: distinctId,
    ip: null,
    data: `{"event":"poisoned","distinct_id":${JSON.stringify(distinctId)},"properties":${properties}}`,
    now,
    token,
    event: 'poisoned',
    timestamp: now,
  })
  const deep = `${'['.repeat(6000)}${']'.repeat(6000)}`
  const log = createEmbeddedLog({ path: join(dataDir, 'log') })
  try {
    await log.append(Topics.commands, [
      { key: `${token}:refused`, value: JSON.stringify(command(1, 'refused', '{"$set":{"bad":"\\ud800"}}')) },
      { key: `${token}:victim`, value: JSON.stringify(command(2, 'victim', `{"$set":{"deep":${deep}}}`)) },
    ])
  } finally {
    await log.close()
  }
}
