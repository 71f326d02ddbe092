import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it as test } from 'vitest'
import { migrateClickHouse } from '../../adapters/clickhouse/migrate.ts'
import { createEmbeddedLog } from '../../adapters/log/embedded/embedded-log.ts'
import { factRecords } from '../../commands/ingest/fact-records.ts'
import type { ClickHouse } from '../../ports/clickhouse.ts'
import type { Log } from '../../ports/log.ts'
import { startClickHouseProjector } from '../../projections/clickhouse/projector.ts'
import { findPersons, getPerson, listEvents, listGroups } from '../../projections/clickhouse/queries.ts'
import type { Fact } from '../../schema/facts.ts'
import { Topics } from '../../schema/topics.ts'

export interface ClickHouseFixture {
  /** An empty database of its own. */
  clickhouse: ClickHouse
  close(): Promise<void>
}

const kept = '0190f0a0-0000-5000-8000-000000000001'
const other = '0190f0a0-0000-5000-8000-000000000002'
const person = (uuid: string, version: number, properties: object, isIdentified = false): Fact => ({
  type: version === 0 ? 'person_created' : 'person_updated',
  teamId: 1,
  uuid,
  createdAt: '2026-01-01T00:00:00.000Z',
  properties: properties as Record<string, unknown>,
  isIdentified,
  version,
})
const event = (uuid: string, distinctId: string, timestamp: string, teamId = 1): Fact => ({
  type: 'event_ingested',
  event: {
    uuid,
    event: 'viewed',
    teamId,
    distinctId,
    properties: { n: uuid.slice(-1) },
    timestamp,
    elementsChain: '',
    createdAt: timestamp,
    capturedAt: timestamp,
    personId: kept,
    personProperties: {},
    personCreatedAt: '2026-01-01T00:00:00.000Z',
    personMode: 'full',
    historicalMigration: false,
  },
})

const beforeMerge: Fact[] = [
  person(kept, 0, { plan: 'free' }),
  { type: 'distinct_id_assigned', teamId: 1, distinctId: 'user', personUuid: kept, version: 0 },
  person(other, 0, { from: 'anon' }),
  { type: 'distinct_id_assigned', teamId: 1, distinctId: 'anon', personUuid: other, version: 0 },
  event('0190f0a0-0000-7000-8000-000000000001', 'user', '2026-01-01T00:00:01.000Z'),
  event('0190f0a0-0000-7000-8000-000000000002', 'anon', '2026-01-01T00:00:02.000Z'),
  event('0190f0a0-0000-7000-8000-000000000003', 'user', '2026-01-01T00:00:03.000Z', 2),
]
const merge: Fact[] = [
  person(kept, 1, { plan: 'free', from: 'anon' }, true),
  { type: 'distinct_id_assigned', teamId: 1, distinctId: 'anon', personUuid: kept, version: 1 },
  { type: 'person_deleted', teamId: 1, uuid: other, version: 100 },
  {
    type: 'group_updated',
    teamId: 1,
    groupTypeIndex: 0,
    groupKey: 'acme',
    properties: { size: 3 },
    createdAt: '2026-01-01T00:00:00.000Z',
    version: 2,
  },
]

/**
 * What every ClickHouse adapter (chDB in-process, a server over HTTP) must do with the same queries:
 * migrate, take the projector's rows, and answer the API's deduplicating queries.
 */
export function clickhouseContract(name: string, open: () => Promise<ClickHouseFixture | null>) {
  describe(`ClickHouse projection on ${name}`, () => {
    let fixture: ClickHouseFixture | null = null
    let clickhouse: ClickHouse
    let log: Log
    const logDir = mkdtempSync(join(tmpdir(), 'sluice-ch-log-'))

    beforeAll(async () => {
      fixture = await open()
      if (fixture === null) return
      clickhouse = fixture.clickhouse
      log = createEmbeddedLog({ path: logDir })
      await log.ensureTopics(
        [...Object.values(Topics)].map((name) => ({ name, partitions: 1, retention: 'forever' as const })),
      )
      expect(await migrateClickHouse(clickhouse)).toEqual([1])
      expect(await migrateClickHouse(clickhouse)).toEqual([])
    })
    afterAll(async () => {
      await log?.close()
      await fixture?.close()
      rmSync(logDir, { recursive: true, force: true })
    })
    const it = (title: string, body: () => Promise<void>) =>
      test(title, async (ctx) => {
        if (fixture === null) return ctx.skip()
        await body()
      })

    async function publish(facts: Fact[]) {
      const byTopic = new Map<string, { key: string | null; value: string }[]>()
      for (const record of factRecords(facts))
        byTopic.set(record.topic, [...(byTopic.get(record.topic) ?? []), record])
      for (const [topic, records] of byTopic) await log.append(topic, records)
    }

    async function projectAll() {
      const projector = startClickHouseProjector({ log, clickhouse })
      await until(async () => {
        const topics = [Topics.events, Topics.persons, Topics.distinctIds, Topics.groups]
        for (const topic of topics) {
          const end = (await log.endOffsets(topic)).get(0) ?? 0
          const committed = (await log.committedOffsets('clickhouse-projector', topic)).get(0) ?? 0
          if (committed < end) return false
        }
        return true
      })
      await projector.stop()
    }

    it('never shows a duplicate or a stale version, however often and in whatever order facts arrive', async () => {
      // merge facts first, then the pre-merge facts twice: versions decide, not arrival order
      await publish(merge)
      await publish(beforeMerge)
      await publish(beforeMerge)
      await projectAll()
      await publish([...beforeMerge, ...merge])
      await projectAll()

      const persons = await findPersons(clickhouse, { teamId: 1, limit: 10, offset: 0 })
      expect(persons).toEqual([
        {
          id: kept,
          uuid: kept,
          distinct_ids: ['anon', 'user'],
          properties: { plan: 'free', from: 'anon' },
          is_identified: true,
          created_at: '2026-01-01T00:00:00.000Z',
        },
      ])
      expect(
        (await findPersons(clickhouse, { teamId: 1, distinctId: 'anon', limit: 10, offset: 0 }))[0]?.uuid,
      ).toBe(kept)
      expect(await getPerson(clickhouse, 1, other)).toBeUndefined()

      const events = await listEvents(clickhouse, { teamId: 1, limit: 10 })
      expect(events.map((e) => e.id)).toEqual([
        '0190f0a0-0000-7000-8000-000000000002',
        '0190f0a0-0000-7000-8000-000000000001',
      ])
      const page = await listEvents(clickhouse, { teamId: 1, limit: 10, before: events[0]!.timestamp })
      expect(page.map((e) => e.id)).toEqual(['0190f0a0-0000-7000-8000-000000000001'])
      expect(await listGroups(clickhouse, { teamId: 1 })).toEqual([
        {
          group_type_index: 0,
          group_key: 'acme',
          group_properties: { size: 3 },
          created_at: '2026-01-01T00:00:00.000Z',
        },
      ])
    })

    it('gathers rows that arrive one by one into fewer, larger inserts while a table is busy', async () => {
      // teams of their own and consumer groups of their own, so the other tests' rows stay as they are
      const insertsOfStream = async (teamId: number, maxGatherMs?: number) => {
        let inserts = 0
        const groupId = `gathering-${teamId}`
        const projector = startClickHouseProjector({
          log,
          clickhouse,
          groupId,
          maxGatherMs,
          onBatch: (topic) => {
            if (topic === Topics.events) inserts++
          },
        })
        for (let i = 0; i < 60; i++) {
          const uuid = `0190f0a0-0000-7000-8000-${String(teamId * 1000 + i).padStart(12, '0')}`
          await publish([event(uuid, 'streaming', '2026-01-02T00:00:00.000Z', teamId)])
          await new Promise((resolve) => setTimeout(resolve, 5))
        }
        await until(async () => {
          const end = (await log.endOffsets(Topics.events)).get(0) ?? 0
          return ((await log.committedOffsets(groupId, Topics.events)).get(0) ?? 0) >= end
        })
        await projector.stop()
        expect(await listEvents(clickhouse, { teamId, limit: 100 })).toHaveLength(60)
        return inserts
      }
      const atOnce = await insertsOfStream(7, 0)
      const gathered = await insertsOfStream(8)
      expect(gathered).toBeLessThan(atOnce / 2)
    })

    it('pages and searches persons', async () => {
      const more: Fact[] = []
      for (let i = 0; i < 5; i++) {
        const uuid = `0190f0a0-0000-5000-8000-0000000001${i}0`
        more.push(
          {
            type: 'person_created',
            teamId: 3,
            uuid,
            createdAt: `2026-02-0${i + 1}T00:00:00.000Z`,
            properties: { email: `p${i}@shop.example` },
            isIdentified: false,
            version: 0,
          },
          { type: 'distinct_id_assigned', teamId: 3, distinctId: `p${i}`, personUuid: uuid, version: 0 },
        )
      }
      await publish(more)
      await projectAll()
      const page = (offset: number) => findPersons(clickhouse, { teamId: 3, limit: 2, offset })
      const pages = [await page(0), await page(2), await page(4)]
      expect(pages.map((p) => p.map((person) => person.distinct_ids[0]))).toEqual([
        ['p4', 'p3'],
        ['p2', 'p1'],
        ['p0'],
      ])
      expect(
        (await findPersons(clickhouse, { teamId: 3, search: 'P2@SHOP', limit: 10, offset: 0 })).map(
          (p) => p.distinct_ids,
        ),
      ).toEqual([['p2']])
      expect(
        (await findPersons(clickhouse, { teamId: 3, search: 'p3', limit: 10, offset: 0 })).map(
          (p) => p.distinct_ids,
        ),
      ).toEqual([['p3']])
    })

    it('keeps tenants apart', async () => {
      expect(await findPersons(clickhouse, { teamId: 2, limit: 10, offset: 0 })).toEqual([])
      expect((await listEvents(clickhouse, { teamId: 2, limit: 10 })).map((e) => e.distinct_id)).toEqual([
        'user',
      ])
    })

    it('sends an unreadable fact to the dead letter queue and still commits the batch', async () => {
      await log.append(Topics.persons, [
        { key: 'x', value: '{not json' },
        { key: 'y', value: '{"id": "not-a-uuid", "team_id": 1, "version": 1}' },
        {
          key: 'z',
          value: JSON.stringify({
            id: other,
            created_at: '2026-01-01 00:00:00.000',
            properties: '{}',
            team_id: 1,
            is_identified: 0,
            is_deleted: 0,
            version: 200,
          }),
        },
      ])
      await projectAll()
      const letters = (await log.read(Topics.deadLetters, 0, 0, 10)).map((m) => JSON.parse(m.value))
      expect(letters.map((l) => [l.step, l.key])).toEqual([
        ['clickhouse_projection', 'x'],
        ['clickhouse_projection', 'y'],
      ])
      expect(letters[1].reason).toContain('ClickHouse refused the row')
      // the good row of the same batch was projected
      const good = await clickhouse.query<{ n: string }>(
        `SELECT count() AS n FROM person WHERE id = {id:UUID} AND version = 200`,
        { id: other },
      )
      expect(Number(good[0]?.n)).toBe(1)
    })
  })
}

async function until(check: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
