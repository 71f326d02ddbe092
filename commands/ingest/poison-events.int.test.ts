import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedLog } from '../../adapters/log/embedded/embedded-log.ts'
import { createKafkaLog } from '../../adapters/log/kafka/kafka-log.ts'
import { type Db, openPostgres } from '../../adapters/postgres/connect.ts'
import type { Log } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'
import { postgresIdentityStore } from '../../projections/postgres/identity-store.ts'
import { postgresProjectStore } from '../../projections/postgres/project-store.ts'
import type { CaptureCommand } from '../../schema/command.ts'
import type { DeadLetter } from '../../schema/dead-letter.ts'
import { Topics } from '../../schema/topics.ts'
import { kafkaAvailable, kafkaBootstrap } from '../../tests/support/kafka-broker.ts'
import { eventually } from '../../tests/support/sluice-process.ts'
import { createTokenCache } from '../projects/token-cache.ts'
import { createIngestBatchHandler } from './ingest-batch.ts'

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} }

interface LogUnderTest {
  log: Log
  close(): Promise<void>
}

/**
 * Commands as they may lie in the log — written by capture, or by another writer or release that
 * did not check what capture checks today — with two poisons in the middle of one partition.
 */
function commands(token: string): CaptureCommand[] {
  let n = 0
  const command = (distinctId: string, properties: string): CaptureCommand => {
    n++
    return {
      uuid: `0190f0a0-0000-7000-8000-${n.toString(16).padStart(12, '0')}`,
      distinct_id: distinctId,
      ip: null,
      data: `{"event":"viewed","distinct_id":${JSON.stringify(distinctId)},"properties":${properties}}`,
      now: '2026-11-25T00:00:00.000Z',
      token,
      event: 'viewed',
      timestamp: `2026-11-25T00:00:${String(n).padStart(2, '0')}.000Z`,
    }
  }
  const deep = `${'['.repeat(6000)}${']'.repeat(6000)}`
  return [
    command('poison-user', '{"$set":{"deep":[]}}'),
    command('before', '{}'),
    // jsonb refuses half a surrogate pair: the database refuses the event
    command('refused-user', '{"$set":{"bad":"\\ud800"}}'),
    command('between', '{}'),
    // comparing a value nested deeper than the stack allows throws while the domain decides
    command('poison-user', `{"$set":{"deep":${deep}}}`),
    command('after-1', '{}'),
    command('after-2', '{"$set":{"fine":true}}'),
  ]
}

function poisonInTheMiddle(name: string, openLog: (prefix: string) => Promise<LogUnderTest | null>) {
  describe(`a poison event in the middle of a partition (${name})`, () => {
    let db: Db
    let under: LogUnderTest | null

    beforeAll(async () => {
      db = await openPostgres({ kind: 'pglite', dataDir: null })
      under = await openLog(`poison_${Date.now().toString(36)}_`)
    })
    afterAll(async () => {
      await under?.close()
      await db.destroy()
    })

    it('goes to the dead letter queue with its step and error, and everything after it is ingested', async (ctx) => {
      if (under === null) return ctx.skip()
      const { log } = under
      await log.ensureTopics([
        ...Object.values(Topics).map((topic) => ({
          name: topic,
          partitions: 1,
          retention: 'forever' as const,
        })),
      ])
      const projects = postgresProjectStore(db)
      const token = 'phc_poison'
      await projects.createProject({ name: 'poison', apiToken: token, personalApiKey: 'phx_poison' })
      const identities = postgresIdentityStore(db, { exclusive: true })
      const handler = createIngestBatchHandler({
        identities,
        tokens: createTokenCache(projects),
        log,
        groupId: 'ingest',
        logger: quiet,
        now: () => new Date('2026-11-25T00:00:00.000Z'),
      })
      const sent = commands(token)
      // one key for all: one partition, in this order, handed over as one batch
      await log.append(
        Topics.commands,
        sent.map((c) => ({ key: `${token}:all`, value: JSON.stringify(c) })),
      )
      const subscription = log.subscribe({
        groupId: 'ingest',
        topics: [Topics.commands],
        maxBatchSize: 1000,
        startOffset: (topic, partition) => identities.consumedOffset('ingest', topic, partition),
        eachBatch: async (batch) => {
          await handler.apply(batch)
        },
      })
      try {
        await eventually(
          async () =>
            (await identities.consumedOffset('ingest', Topics.commands, 0)) === sent.length
              ? true
              : undefined,
          60_000,
          'the partition to be consumed to its end',
        )
        await handler.drain()
      } finally {
        await subscription.stop()
      }

      const ids = await db
        .selectFrom('person_distinct_ids')
        .select('distinct_id')
        .orderBy('distinct_id')
        .execute()
      expect(ids.map((r) => r.distinct_id)).toEqual([
        'after-1',
        'after-2',
        'before',
        'between',
        'poison-user',
      ])
      const letters = (
        await eventually(async () => {
          const messages = await log.read(Topics.deadLetters, 0, 0, 10)
          return messages.length === 2 ? messages : undefined
        }, 30_000)
      ).map((m) => JSON.parse(m.value) as DeadLetter)
      expect(letters.map((l) => [l.offset, l.step, l.code])).toEqual(
        expect.arrayContaining([
          [2, 'apply', 'database_refused'],
          [4, 'decide', 'decide_failed'],
        ]),
      )
      expect(letters.find((l) => l.offset === 4)?.reason).toContain('Maximum call stack size exceeded')
      expect(JSON.parse(letters.find((l) => l.offset === 2)!.value).distinct_id).toBe('refused-user')
    })
  })
}

poisonInTheMiddle('embedded log', async () => {
  const path = mkdtempSync(join(tmpdir(), 'sluice-poison-'))
  const log = createEmbeddedLog({ path })
  return {
    log,
    close: async () => {
      await log.close()
      rmSync(path, { recursive: true, force: true })
    },
  }
})

poisonInTheMiddle('Apache Kafka', async (prefix) => {
  if (!(await kafkaAvailable())) return null
  const log = createKafkaLog({ brokers: kafkaBootstrap.split(','), clientId: 'sluice-poison', prefix })
  return { log, close: () => log.close() }
})
