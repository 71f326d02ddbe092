import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedLog } from '../../adapters/log/embedded/embedded-log.ts'
import { type Db, openPostgres } from '../../adapters/postgres/connect.ts'
import type { Log, LogBatch } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'
import { postgresIdentityStore } from '../../projections/postgres/identity-store.ts'
import { postgresProjectStore } from '../../projections/postgres/project-store.ts'
import type { RawEvent } from '../../schema/command.ts'
import { Topics } from '../../schema/topics.ts'
import { createTokenCache } from '../projects/token-cache.ts'
import { flushOutbox, startOutboxSweeper } from './fact-publisher.ts'
import { createIngestBatchHandler } from './ingest-batch.ts'
import { appendCaptured, countingUuids } from './testing/command-log.ts'

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} }
const nextUuid = countingUuids()

describe('ingesting a batch of commands (PGlite + embedded log)', () => {
  let db: Db
  let log: Log
  let token: string

  beforeAll(async () => {
    db = await openPostgres({ kind: 'pglite', dataDir: null })
    log = createEmbeddedLog({ path: mkdtempSync(join(tmpdir(), 'sluice-ingest-')) })
    await log.ensureTopics(
      Object.values(Topics).map((name) => ({ name, partitions: 1, retention: 'forever' as const })),
    )
    token = (
      await postgresProjectStore(db).createProject({
        name: 't',
        apiToken: 'phc_ingest_test',
        personalApiKey: 'phx_ingest',
      })
    ).project.apiToken
  })
  afterAll(async () => {
    await log.close()
    await db.destroy()
  })

  const handler = (target: Log = log) =>
    createIngestBatchHandler({
      identities: postgresIdentityStore(db),
      tokens: createTokenCache(postgresProjectStore(db)),
      log: target,
      groupId: 'ingest',
      logger: quiet,
      now: () => new Date('2026-11-25T00:00:00.000Z'),
    })

  /** Applies a batch as a fresh process would, and waits for its facts to be published. */
  const ingest = async (batch: LogBatch) => {
    const h = handler()
    const result = await h.apply(batch)
    await h.drain()
    return result
  }

  const appendEvents = (events: RawEvent[], withToken = token) =>
    appendCaptured(log, events, withToken, nextUuid)

  const topicSize = async (topic: string) => (await log.endOffsets(topic)).get(0) ?? 0

  it('creates persons, merges on identify, and publishes the facts', async () => {
    const batch = await appendEvents([
      { event: 'viewed', distinct_id: 'anon-1', properties: { $set: { plan: 'free' } } },
      {
        event: '$identify',
        distinct_id: 'user-1',
        properties: { $anon_distinct_id: 'anon-1', $set: { email: 'a@b.c' } },
      },
    ])
    expect(await ingest(batch)).toEqual({ ingested: 2, dropped: 0, deadLettered: 0, alreadyApplied: 0 })
    const ids = await db
      .selectFrom('person_distinct_ids')
      .select(['distinct_id', 'person_uuid'])
      .orderBy('distinct_id')
      .execute()
    expect(ids.map((r) => r.distinct_id)).toEqual(['anon-1', 'user-1'])
    expect(new Set(ids.map((r) => r.person_uuid)).size).toBe(1)
    const person = await db.selectFrom('persons').selectAll().executeTakeFirstOrThrow()
    expect(person.properties).toMatchObject({ plan: 'free', email: 'a@b.c' })
    expect(person.is_identified).toBe(true)
    expect(await topicSize(Topics.events)).toBe(2)
    expect(await db.selectFrom('fact_outbox').select('id').execute()).toEqual([])
  })

  it('ingests NUL in names, ids, keys and values instead of stalling on what Postgres refuses', async () => {
    const nul = '\u0000'
    const batch = await appendEvents([
      {
        event: `odd${nul}event`,
        distinct_id: `nul${nul}user`,
        properties: { [`k${nul}`]: `v${nul}`, $set: { [`s${nul}`]: [`x${nul}`] } },
      },
      {
        event: '$groupidentify',
        distinct_id: `nul${nul}user`,
        properties: { $group_type: `t${nul}`, $group_key: `g${nul}`, $group_set: { name: `n${nul}` } },
      },
    ])
    expect(await ingest(batch)).toMatchObject({ ingested: 2, deadLettered: 0 })
    const person = await db
      .selectFrom('person_distinct_ids')
      .innerJoin('persons', 'persons.uuid', 'person_distinct_ids.person_uuid')
      .select(['persons.properties'])
      .where('distinct_id', '=', 'nul\uFFFDuser')
      .executeTakeFirstOrThrow()
    expect(person.properties).toMatchObject({ 's\uFFFD': ['x\uFFFD'] })
    const group = await db
      .selectFrom('groups')
      .selectAll()
      .where('group_key', '=', 'g\uFFFD')
      .executeTakeFirstOrThrow()
    expect(group.group_properties).toEqual({ name: 'n\uFFFD' })
  })

  it('dead-letters the one event the database refuses and ingests the rest of its batch', async () => {
    const lettersBefore = await topicSize(Topics.deadLetters)
    // half a surrogate pair: jsonb refuses it; capture repairs it, but the log may hold it anyway
    const batch = await appendEvents([
      { event: 'viewed', distinct_id: 'fine-1', properties: { $set: { ok: 1 } } },
      { event: 'viewed', distinct_id: 'refused', properties: { $set: { bad: '\ud800' } } },
      { event: 'viewed', distinct_id: 'fine-2', properties: { $set: { ok: 2 } } },
    ])
    expect(await ingest(batch)).toEqual({ ingested: 2, dropped: 0, deadLettered: 1, alreadyApplied: 0 })
    const ids = await db
      .selectFrom('person_distinct_ids')
      .select('distinct_id')
      .where('distinct_id', 'in', ['fine-1', 'refused', 'fine-2'])
      .orderBy('distinct_id')
      .execute()
    expect(ids.map((r) => r.distinct_id)).toEqual(['fine-1', 'fine-2'])
    const [letter] = await log.read(Topics.deadLetters, 0, lettersBefore, 10)
    expect(JSON.parse(letter!.value)).toMatchObject({
      step: 'apply',
      offset: batch.messages[1]!.offset,
      reason: expect.stringContaining('the database refused the data (SQLSTATE 22'),
    })
    // the whole batch counts as consumed
    expect(await ingest(batch)).toEqual({ ingested: 0, dropped: 0, deadLettered: 0, alreadyApplied: 3 })
  })

  it('recognises a redelivered batch and applies nothing twice', async () => {
    const batch = await appendEvents([
      { event: 'viewed', distinct_id: 'user-2', properties: { $set: { n: 1 } } },
    ])
    await ingest(batch)
    const events = await topicSize(Topics.events)
    const person = await db
      .selectFrom('persons')
      .select(['uuid', 'version'])
      .where(sql<boolean>`properties @> '{"n":1}'`)
      .executeTakeFirstOrThrow()
    expect(await ingest(batch)).toEqual({ ingested: 0, dropped: 0, deadLettered: 0, alreadyApplied: 1 })
    expect(await topicSize(Topics.events)).toBe(events)
    expect(
      (
        await db
          .selectFrom('persons')
          .select('version')
          .where('uuid', '=', person.uuid)
          .executeTakeFirstOrThrow()
      ).version,
    ).toBe(person.version)
  })

  it('sends what it cannot resolve to the dead letter queue, with the reason and the original record', async () => {
    const lettersBefore = await topicSize(Topics.deadLetters)
    const batch = await appendEvents([{ event: 'viewed', distinct_id: 'x' }], 'phc_unknown_project')
    expect(await ingest(batch)).toMatchObject({ ingested: 0, deadLettered: 1 })
    const [letter] = await log.read(Topics.deadLetters, 0, lettersBefore, 10)
    const parsed = JSON.parse(letter!.value)
    expect(parsed).toMatchObject({
      step: 'resolve_project',
      topic: Topics.commands,
      offset: batch.messages[0]!.offset,
    })
    expect(parsed.reason).toContain('phc_unknown_project')
    expect(JSON.parse(parsed.value).distinct_id).toBe('x')
  })

  it('loses no fact when the process dies between the commit and publishing', async () => {
    const batch = await appendEvents([{ event: 'viewed', distinct_id: 'user-3' }])
    const events = await topicSize(Topics.events)
    const failingLog: Log = {
      ...log,
      append: async (topic, records) => {
        if (topic !== Topics.commands) throw new Error('crash before publishing')
        return log.append(topic, records)
      },
    }
    const crashing = handler(failingLog)
    await crashing.apply(batch)
    await expect(crashing.drain()).rejects.toThrow('crash before publishing')
    // committed: the person exists, the offset moved, the facts wait in the outbox
    expect(await db.selectFrom('fact_outbox').select('id').execute()).toHaveLength(1)
    expect(await topicSize(Topics.events)).toBe(events)
    // the restarted process publishes them, and the redelivered batch is not applied again
    expect(await flushOutbox({ log, identities: postgresIdentityStore(db) })).toBe(1)
    expect(await topicSize(Topics.events)).toBe(events + 1)
    expect(await ingest(batch)).toMatchObject({ alreadyApplied: 1, ingested: 0 })
    expect(await topicSize(Topics.events)).toBe(events + 1)
  })

  it('publishes facts whose publishing failed before the next batch, in commit order', async () => {
    const first = await appendEvents([{ event: 'first', distinct_id: 'user-4' }])
    const second = await appendEvents([{ event: 'second', distinct_id: 'user-4' }])
    const eventsBefore = await topicSize(Topics.events)
    let failures = 1
    const flakyLog: Log = {
      ...log,
      append: async (topic, records) => {
        if (topic === Topics.events && failures-- > 0) throw new Error('log briefly away')
        return log.append(topic, records)
      },
    }
    const h = handler(flakyLog)
    await h.apply(first)
    await h.apply(second)
    await h.drain()
    const published = await log.read(Topics.events, 0, eventsBefore, 10)
    expect(published.map((m) => JSON.parse(m.value).event)).toEqual(['first', 'second'])
    expect(await db.selectFrom('fact_outbox').select('id').execute()).toEqual([])
  })

  it('publishes what a killed process committed and never published, without waiting for it to restart', async () => {
    const batch = await appendEvents([{ event: 'orphaned', distinct_id: 'user-5' }])
    const eventsBefore = await topicSize(Topics.events)
    const dying = handler({
      ...log,
      append: async (topic, records) => {
        if (topic !== Topics.commands) throw new Error('killed before publishing')
        return log.append(topic, records)
      },
    })
    await dying.apply(batch)
    await expect(dying.drain()).rejects.toThrow('killed before publishing')
    const sweeper = startOutboxSweeper(
      { log, identities: postgresIdentityStore(db), logger: quiet },
      { everyMs: 20, olderThanSeconds: 0 },
    )
    try {
      for (let i = 0; i < 200 && (await topicSize(Topics.events)) === eventsBefore; i++)
        await new Promise((resolve) => setTimeout(resolve, 10))
    } finally {
      await sweeper.stop()
    }
    const [published] = await log.read(Topics.events, 0, eventsBefore, 10)
    expect(JSON.parse(published!.value).event).toBe('orphaned')
    expect(await db.selectFrom('fact_outbox').select('id').execute()).toEqual([])
  })
})
