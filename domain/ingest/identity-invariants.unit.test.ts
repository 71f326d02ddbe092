import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Fact } from '../../schema/facts.ts'
import { identityKey } from '../../schema/identity-keys.ts'
import { evolveIdentity } from '../identity/evolve.ts'
import { emptyIdentityState, type IdentityState } from '../identity/state.ts'
import type { PipelineEvent } from '../ingest/pipeline-event.ts'
import { pipelineEvent, runEvents, teamId } from '../testing/run-events.ts'

// A small pool, so that sequences keep hitting the same persons; 'null' is an illegal id.
const distinctId = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'user-1', 'user-2', 'null')
const key = fc.constantFrom('plan', 'email', 'n', 'first')
const value = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom('x', 'y'), fc.boolean())
const updates = fc.record(
  {
    $set: fc.dictionary(key, value, { maxKeys: 2 }),
    $set_once: fc.dictionary(key, value, { maxKeys: 2 }),
    $unset: fc.array(key, { maxLength: 1 }),
  },
  { requiredKeys: [] },
)

type Step = { event: string; distinctId: string; properties: Record<string, unknown> }
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ event: fc.constant('pageview'), distinctId, properties: updates }) },
  {
    weight: 2,
    arbitrary: fc.tuple(distinctId, distinctId, updates).map(([id, anon, u]) => ({
      event: '$identify',
      distinctId: id,
      properties: { ...u, $anon_distinct_id: anon },
    })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('$create_alias', '$merge_dangerously'), distinctId, distinctId)
      .map(([event, id, alias]) => ({ event, distinctId: id, properties: { alias } })),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      event: fc.constant('pageview'),
      distinctId,
      properties: fc.constant({ $process_person_profile: false }),
    }),
  },
)
const sequences = fc.array(step, { minLength: 1, maxLength: 40 })
const toEvents = (steps: Step[]): PipelineEvent[] =>
  steps.map((s, i) => pipelineEvent(i + 1, s.event, s.distinctId, structuredClone(s.properties)))

function assignedIds(state: IdentityState): Set<string> {
  return new Set(state.distinctIds.keys())
}

function expectConsistent(state: IdentityState) {
  const owners = new Map<string, string>()
  for (const person of state.persons.values()) {
    for (const id of person.distinctIds) {
      const key = identityKey(person.teamId, id)
      expect(owners.has(key), `${id} is held by two persons`).toBe(false)
      owners.set(key, person.uuid)
    }
  }
  // every assigned distinct id belongs to exactly one existing person, and to the one it names
  expect(new Set(owners.keys())).toEqual(assignedIds(state))
  for (const [key, { personUuid }] of state.distinctIds) expect(owners.get(key)).toBe(personUuid)
}

describe('identity invariants over any sequence of events', () => {
  it('every distinct id belongs to exactly one person, after every event', () => {
    fc.assert(
      fc.property(sequences, (steps) => {
        const state = emptyIdentityState()
        for (const event of toEvents(steps)) {
          runEvents([event], state)
          expectConsistent(state)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('no distinct id is ever lost, and every processed event leaves its id with a person', () => {
    fc.assert(
      fc.property(sequences, (steps) => {
        const state = emptyIdentityState()
        for (const event of toEvents(steps)) {
          const before = assignedIds(state)
          const { decisions } = runEvents([event], state)
          const after = assignedIds(state)
          for (const id of before) expect(after.has(id)).toBe(true)
          const personless = event.properties.$process_person_profile === false
          if (decisions[0]?.outcome === 'ingested' && !personless)
            expect(after.has(identityKey(teamId, event.distinctId))).toBe(true)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('a merge keeps every distinct id and every property of both persons the event does not unset', () => {
    fc.assert(
      fc.property(sequences, (steps) => {
        const state = emptyIdentityState()
        for (const event of toEvents(steps)) {
          const persons = new Map([...state.persons].map(([uuid, p]) => [uuid, structuredClone(p)]))
          const { factsOf } = runEvents([event], state)
          for (const merge of factsOf('persons_merged')) {
            const kept = state.persons.get(merge.keptPersonUuid)!
            const before = [persons.get(merge.keptPersonUuid)!, persons.get(merge.mergedPersonUuid)!]
            expect(state.persons.has(merge.mergedPersonUuid)).toBe(false)
            for (const id of before.flatMap((p) => p.distinctIds)) expect(kept.distinctIds).toContain(id)
            expect(merge.distinctIds.sort()).toEqual([...before[1]!.distinctIds].sort())
            const unset = new Set((event.properties.$unset as string[] | undefined) ?? [])
            for (const property of before.flatMap((p) => Object.keys(p.properties)))
              if (!unset.has(property)) expect(kept.properties).toHaveProperty(property)
          }
        }
      }),
      { numRuns: 300 },
    )
  })

  it('versions only increase: persons with every change, distinct ids with every move', () => {
    fc.assert(
      fc.property(sequences, (steps) => {
        const { facts } = runEvents(toEvents(steps))
        const personVersions = new Map<string, number>()
        const idVersions = new Map<string, number>()
        for (const fact of facts) {
          if (fact.type === 'person_updated' || fact.type === 'person_deleted') {
            expect(fact.version).toBeGreaterThan(personVersions.get(fact.uuid) ?? -1)
            personVersions.set(fact.uuid, fact.version)
          } else if (fact.type === 'person_created') {
            expect(personVersions.has(fact.uuid)).toBe(false)
            personVersions.set(fact.uuid, fact.version)
          } else if (fact.type === 'distinct_id_assigned') {
            expect(fact.version).toBeGreaterThan(idVersions.get(fact.distinctId) ?? -1)
            idVersions.set(fact.distinctId, fact.version)
          }
        }
      }),
      { numRuns: 300 },
    )
  })

  it('the same commands give the same facts, whether run at once or batch by batch from replayed facts', () => {
    fc.assert(
      fc.property(sequences, fc.integer({ min: 1, max: 10 }), (steps, batchSize) => {
        const once = runEvents(toEvents(steps)).facts
        expect(runEvents(toEvents(steps)).facts).toEqual(once)
        // as ingest and a replay see it: each batch decided against state rebuilt from earlier facts only
        const events = toEvents(steps)
        const facts: Fact[] = []
        for (let i = 0; i < events.length; i += batchSize) {
          const state = emptyIdentityState()
          for (const fact of facts) evolveIdentity(state, fact)
          facts.push(...runEvents(events.slice(i, i + batchSize), state).facts)
        }
        expect(facts).toEqual(once)
      }),
      { numRuns: 200 },
    )
  })
})
