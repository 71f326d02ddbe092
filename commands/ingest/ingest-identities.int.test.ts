import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedLog } from '../../adapters/log/embedded/embedded-log.ts'
import { type Db, openPostgres } from '../../adapters/postgres/connect.ts'
import { emptyIdentityState } from '../../domain/identity/state.ts'
import { decideBatch } from '../../domain/ingest/decide-batch.ts'
import { parseCommand } from '../../domain/ingest/pipeline-event.ts'
import type { IdentityStore } from '../../ports/identity-store.ts'
import type { Log, LogBatch } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'
import { postgresIdentityStore } from '../../projections/postgres/identity-store.ts'
import { postgresProjectStore } from '../../projections/postgres/project-store.ts'
import type { CaptureCommand, RawEvent } from '../../schema/command.ts'
import { groupIdentityKey, identityKey } from '../../schema/identity-keys.ts'
import { Topics } from '../../schema/topics.ts'
import {
  createTestDatabase,
  postgresServerReachable,
  postgresServerUrl,
} from '../../tests/support/postgres-server.ts'
import { serviceAvailable } from '../../tests/support/services.ts'
import { createTokenCache } from '../projects/token-cache.ts'
import { addBatchResults, createIngestBatchHandler } from './ingest-batch.ts'
import { appendCaptured, countingUuids } from './testing/command-log.ts'

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} }

// A small pool so sequences keep meeting the same persons, and illegal ids in several casings.
const distinctId = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'user-1', 'user-2') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('null', 'NULL', 'Undefined', 'ANONYMOUS', '"guest"', '[object Object]', '0'),
  },
)
const key = fc.constantFrom('plan', 'email', 'n', 'first')
const value = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom('x', 'y'), fc.boolean())
const updates = fc.record(
  {
    $set: fc.dictionary(key, value, { maxKeys: 2 }),
    $set_once: fc.dictionary(key, value, { maxKeys: 2 }),
    $unset: fc.array(key, { maxLength: 2 }),
  },
  { requiredKeys: [] },
)
const groupType = fc.constantFrom('company', 'team')
const groupKey = fc.constantFrom('g1', 'g2')

const event: fc.Arbitrary<RawEvent> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ event: fc.constant('pageview'), distinct_id: distinctId, properties: updates }),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(distinctId, distinctId, updates).map(([id, anon, u]) => ({
      event: '$identify',
      distinct_id: id,
      properties: { ...u, $anon_distinct_id: anon },
    })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom('$create_alias', '$merge_dangerously'), distinctId, distinctId)
      .map(([name, id, alias]) => ({ event: name, distinct_id: id, properties: { alias } })),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      event: fc.constantFrom('pageview', '$identify'),
      distinct_id: distinctId,
      properties: fc.constant({ $process_person_profile: false }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(distinctId, groupType, groupKey, fc.dictionary(key, value, { maxKeys: 2 }))
      .map(([id, type, groupKey, set]) => ({
        event: '$groupidentify',
        distinct_id: id,
        properties: { $group_type: type, $group_key: groupKey, $group_set: set },
      })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(distinctId, groupType, groupKey).map(([id, type, groupKey]) => ({
      event: 'pageview',
      distinct_id: id,
      properties: { $groups: { [type]: groupKey } },
    })),
  },
)

type Run = { events: RawEvent[]; batchSizes: number[]; cache: 'warm' | 'cold' }

// Failures found before (shrunk), kept as cases every run tries first: merges of persons that hold
// more ids than the event names once stalled their partition (the absorbed person was deleted while
// ids the batch had not loaded still pointed at it).
const foundBefore: Run[] = [
  {
    // the report that found it: two identified persons, then $merge_dangerously, one batch each
    events: [
      { event: '$identify', distinct_id: 'u1', properties: { $anon_distinct_id: 'a1' } },
      { event: '$identify', distinct_id: 'u2', properties: { $anon_distinct_id: 'a2' } },
      { event: '$merge_dangerously', distinct_id: 'u2', properties: { alias: 'u1' } },
    ],
    batchSizes: [1],
    cache: 'cold',
  },
  {
    events: [
      { event: 'pageview', distinct_id: 'b', properties: {} },
      { event: '$create_alias', distinct_id: 'a', properties: { alias: 'c' } },
      { event: '$merge_dangerously', distinct_id: 'b', properties: { alias: 'a' } },
      { event: '$identify', distinct_id: 'a', properties: { $anon_distinct_id: 'a' } },
    ],
    batchSizes: [1],
    cache: 'warm',
  },
  {
    events: [
      { event: '$identify', distinct_id: 'user-2', properties: { $anon_distinct_id: 'd' } },
      { event: 'pageview', distinct_id: 'a', properties: { $groups: { company: 'g1' } } },
      { event: '$merge_dangerously', distinct_id: 'a', properties: { alias: 'd' } },
      { event: 'pageview', distinct_id: 'a', properties: {} },
    ],
    batchSizes: [1],
    cache: 'warm',
  },
  {
    // the same merges within one batch
    events: [
      { event: '$identify', distinct_id: 'u1', properties: { $anon_distinct_id: 'a1' } },
      { event: '$identify', distinct_id: 'u2', properties: { $anon_distinct_id: 'a2' } },
      { event: '$merge_dangerously', distinct_id: 'u2', properties: { alias: 'u1' } },
      { event: '$create_alias', distinct_id: 'u3', properties: { alias: 'u2' } },
      { event: '$merge_dangerously', distinct_id: 'u4', properties: { alias: 'u3' } },
    ],
    batchSizes: [5],
    cache: 'cold',
  },
]

const runs: fc.Arbitrary<Run> = fc.record({
  events: fc.array(event, { minLength: 1, maxLength: 60, size: 'medium' }),
  batchSizes: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 10 }),
  cache: fc.constantFrom('warm' as const, 'cold' as const),
})

function identityProperty(
  name: string,
  open: () => Promise<{ db: Db; exclusive: boolean; close: () => Promise<void> } | null>,
) {
  describe(`ingesting random identity traffic on ${name}`, () => {
    let opened: { db: Db; exclusive: boolean; close: () => Promise<void> } | null = null
    let log: Log
    let project = 0
    const newUuid = countingUuids()

    beforeAll(async () => {
      opened = await open()
      log = createEmbeddedLog({ path: mkdtempSync(join(tmpdir(), 'sluice-identities-')) })
      await log.ensureTopics(
        Object.values(Topics).map((topic) => ({ name: topic, partitions: 1, retention: 'forever' as const })),
      )
    })
    afterAll(async () => {
      await log?.close()
      await opened?.close()
    })

    it('every event is ingested or dropped as PostHog would, never stuck; the store holds what the domain decided', async (ctx) => {
      if (opened === null) return ctx.skip()
      const { db, exclusive } = opened
      const projects = postgresProjectStore(db)
      await fc.assert(
        fc.asyncProperty(runs, async ({ events, batchSizes, cache }) => {
          project++
          const token = `phc_identities_${project}`
          const { project: team } = await projects.createProject({
            name: `p${project}`,
            apiToken: token,
            personalApiKey: `phx_identities_${project}`,
          })
          const { messages } = await appendCaptured(log, structuredClone(events), token, newUuid)

          const tokens = createTokenCache(projects)
          const store = () => postgresIdentityStore(db, { exclusive })
          let warmStore: IdentityStore = store()
          const handlerFor = (identities: IdentityStore) =>
            createIngestBatchHandler({
              identities,
              tokens,
              log,
              groupId: 'ingest',
              logger: quiet,
              now: () => new Date('2026-11-25T00:00:00.000Z'),
            })
          let total = { ingested: 0, dropped: 0, deadLettered: 0, alreadyApplied: 0 }
          for (let start = 0, i = 0; start < messages.length; i++) {
            const size = batchSizes[i % batchSizes.length]!
            const batch: LogBatch = {
              topic: Topics.commands,
              partition: 0,
              messages: messages.slice(start, start + size),
            }
            start += size
            if (cache === 'cold') warmStore = store()
            const handler = handlerFor(warmStore)
            total = addBatchResults(total, await handler.apply(batch))
            await handler.drain()
          }

          // never stuck: every event counted once, nothing set aside, the partition consumed to its end
          expect(total).toEqual({
            ingested: total.ingested,
            dropped: events.length - total.ingested,
            deadLettered: 0,
            alreadyApplied: 0,
          })
          expect(await warmStore.consumedOffset('ingest', Topics.commands, 0)).toBe(
            messages.at(-1)!.offset + 1,
          )

          // what the domain decides for the same commands in one go
          const state = emptyIdentityState()
          decideBatch(
            state,
            messages.map((m) => {
              const parsed = parseCommand(JSON.parse(m.value) as CaptureCommand)
              if (!parsed.ok) throw new Error(parsed.reason)
              return { team: { teamId: team.id, anonymizeIps: false }, event: parsed.event }
            }),
          )

          const persons = await db
            .selectFrom('persons')
            .select(['uuid', 'properties', 'version', 'is_identified', 'created_at'])
            .where('team_id', '=', team.id)
            .execute()
          expect(
            new Map(
              persons.map((p) => [
                p.uuid,
                {
                  properties: p.properties,
                  version: Number(p.version),
                  isIdentified: p.is_identified,
                  createdAt: new Date(p.created_at).toISOString(),
                },
              ]),
            ),
          ).toEqual(
            new Map(
              [...state.persons.values()].map((p) => [
                p.uuid,
                {
                  properties: p.properties,
                  version: p.version,
                  isIdentified: p.isIdentified,
                  createdAt: p.createdAt,
                },
              ]),
            ),
          )

          // every distinct id on exactly one existing person, the one the domain gave it
          const ids = await db
            .selectFrom('person_distinct_ids')
            .select(['distinct_id', 'person_uuid', 'version'])
            .where('team_id', '=', team.id)
            .execute()
          const personUuids = new Set(persons.map((p) => p.uuid))
          for (const id of ids) expect(personUuids.has(id.person_uuid)).toBe(true)
          for (const uuid of personUuids) expect(ids.some((id) => id.person_uuid === uuid)).toBe(true)
          expect(
            new Map(
              ids.map((d) => [
                identityKey(team.id, d.distinct_id),
                { personUuid: d.person_uuid, version: Number(d.version) },
              ]),
            ),
          ).toEqual(state.distinctIds)

          const personless = await db
            .selectFrom('personless_distinct_ids')
            .select(['distinct_id', 'is_merged'])
            .where('team_id', '=', team.id)
            .execute()
          expect(
            new Map(personless.map((p) => [identityKey(team.id, p.distinct_id), { isMerged: p.is_merged }])),
          ).toEqual(state.personless)

          const groups = await db
            .selectFrom('groups')
            .select(['group_type_index', 'group_key', 'group_properties', 'version'])
            .where('team_id', '=', team.id)
            .execute()
          expect(
            new Map(
              groups.map((g) => [
                groupIdentityKey(team.id, g.group_type_index, g.group_key),
                { properties: g.group_properties, version: Number(g.version) },
              ]),
            ),
          ).toEqual(
            new Map([...state.groups].map(([k, g]) => [k, { properties: g.properties, version: g.version }])),
          )
        }),
        {
          numRuns: Number(process.env.SLUICE_PROPERTY_RUNS ?? 60),
          examples: foundBefore.map((run) => [run]),
        },
      )
    })
  })
}

identityProperty('PGlite', async () => {
  const db = await openPostgres({ kind: 'pglite', dataDir: null })
  return { db, exclusive: true, close: () => db.destroy() }
})

identityProperty('PostgreSQL server', async () => {
  const problem = await postgresServerReachable()
  if (!serviceAvailable('PostgreSQL', problem === null, `${postgresServerUrl}: ${problem}`)) return null
  const database = await createTestDatabase()
  const db = await openPostgres({ kind: 'pg', url: database.url })
  return {
    db,
    exclusive: false,
    close: async () => {
      await db.destroy()
      await database.drop()
    },
  }
})
