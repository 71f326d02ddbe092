import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedLog } from '../../adapters/log/embedded/embedded-log.ts'
import { type Db, openPostgres } from '../../adapters/postgres/connect.ts'
import type { Log } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'
import { postgresDeadLetterReplays } from '../../projections/postgres/dead-letter-replays.ts'
import { postgresIdentityStore } from '../../projections/postgres/identity-store.ts'
import { postgresProjectStore } from '../../projections/postgres/project-store.ts'
import type { CaptureCommand } from '../../schema/command.ts'
import { Topics } from '../../schema/topics.ts'
import { createIngestBatchHandler } from '../ingest/ingest-batch.ts'
import { createTokenCache } from '../projects/token-cache.ts'
import { listDeadLetters, replayDeadLetters, UnknownDeadLetterError } from './dead-letters.ts'

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} }

describe('the dead letter queue: list and replay (PGlite + embedded log)', () => {
  let db: Db
  let log: Log

  beforeAll(async () => {
    db = await openPostgres({ kind: 'pglite', dataDir: null })
    log = createEmbeddedLog({ path: mkdtempSync(join(tmpdir(), 'sluice-dlq-')) })
    await log.ensureTopics(
      Object.values(Topics).map((name) => ({ name, partitions: 1, retention: 'forever' as const })),
    )
  })
  afterAll(async () => {
    await log.close()
    await db.destroy()
  })

  // a fresh token cache each time, as a restarted ingest process has
  const ingestFrom = async (offset: number) => {
    const handler = createIngestBatchHandler({
      identities: postgresIdentityStore(db),
      tokens: createTokenCache(postgresProjectStore(db)),
      log,
      groupId: 'ingest',
      logger: quiet,
      now: () => new Date('2026-11-25T00:00:00.000Z'),
    })
    const result = await handler.apply({
      topic: Topics.commands,
      partition: 0,
      messages: await log.read(Topics.commands, 0, offset, 100),
    })
    await handler.drain()
    return result
  }
  const command: CaptureCommand = {
    uuid: '0190f0a0-0000-7000-8000-000000000001',
    distinct_id: 'late-user',
    ip: null,
    data: JSON.stringify({ event: 'signed_up', properties: {} }),
    now: '2026-11-25T00:00:00.000Z',
    token: 'phc_created_later',
    event: 'signed_up',
    timestamp: '2026-11-25T00:00:00.000Z',
  }

  it('lists what ingest could not process with the reason, and replays it once the cause is gone', async () => {
    await log.append(Topics.commands, [
      { key: 'phc_created_later:late-user', value: JSON.stringify(command) },
      { key: null, value: 'not json at all' },
    ])
    expect(await ingestFrom(0)).toMatchObject({ ingested: 0, deadLettered: 2 })
    const replays = postgresDeadLetterReplays(db)
    const letters = await listDeadLetters(log, replays)
    expect(letters.map((l) => [l.id, l.step, l.replayedAt])).toEqual([
      [`${Topics.commands}:0:0`, 'resolve_project', null],
      [`${Topics.commands}:0:1`, 'parse', null],
    ])
    expect(letters[0]?.reason).toContain('phc_created_later')
    expect(letters[1]?.value).toBe('not json at all')

    // the project the event was meant for exists now
    await postgresProjectStore(db).createProject({
      name: 'late',
      apiToken: 'phc_created_later',
      personalApiKey: 'phx_late',
    })
    const replayed = await replayDeadLetters(log, replays, new Date('2026-11-26T00:00:00.000Z'))
    expect(replayed).toHaveLength(2)
    expect(await ingestFrom(2)).toMatchObject({ ingested: 1, deadLettered: 1 })
    const persons = await db.selectFrom('person_distinct_ids').select('distinct_id').execute()
    expect(persons.map((p) => p.distinct_id)).toEqual(['late-user'])

    // the unparseable one failed again: a new letter, and the old ones are marked replayed
    const after = await listDeadLetters(log, replays)
    expect(after.map((l) => [l.id, l.replays])).toEqual([
      [`${Topics.commands}:0:0`, 1],
      [`${Topics.commands}:0:1`, 1],
      [`${Topics.commands}:0:3`, 0],
    ])
    expect(after[0]?.replayedAt).toBe('2026-11-26T00:00:00.000Z')
  })

  it('replays only the letters named, even replayed ones, and refuses an unknown id', async () => {
    const before = (await log.endOffsets(Topics.commands)).get(0)
    const [letter] = await replayDeadLetters(log, postgresDeadLetterReplays(db), new Date(), [
      `${Topics.commands}:0:1`,
    ])
    expect(letter?.value).toBe('not json at all')
    expect((await log.endOffsets(Topics.commands)).get(0)).toBe((before ?? 0) + 1)
    expect((await listDeadLetters(log, postgresDeadLetterReplays(db)))[1]?.replays).toBe(2)
    await expect(replayDeadLetters(log, postgresDeadLetterReplays(db), new Date(), ['nope'])).rejects.toThrow(
      UnknownDeadLetterError,
    )
  })
})
