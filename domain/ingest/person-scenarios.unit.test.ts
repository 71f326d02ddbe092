import { describe, expect, it } from 'vitest'
import { personUuid } from '../hash/uuid.ts'
import { pipelineEvent as e, runEvents, teamId } from '../testing/run-events.ts'

const uuidOf = (distinctId: string) => personUuid(teamId, distinctId)
const idsOf = (run: ReturnType<typeof runEvents>, distinctId: string) =>
  [...(run.personOf(distinctId)?.distinctIds ?? [])].sort()

/** PostHog's person scenarios, one row each: events in, what must hold out. */
const scenarios: {
  name: string
  events: ReturnType<typeof e>[]
  expect: (run: ReturnType<typeof runEvents>) => void
}[] = [
  {
    name: 'anonymous → identify: the user id joins the anonymous person, which becomes identified',
    events: [
      e(1, 'pageview', 'anon-1', { $set: { plan: 'free' } }),
      e(2, '$identify', 'user-1', { $anon_distinct_id: 'anon-1', $set: { email: 'a@x.io' } }),
    ],
    expect: (run) => {
      expect(run.personOf('user-1')?.uuid).toBe(uuidOf('anon-1'))
      expect(idsOf(run, 'anon-1')).toEqual(['anon-1', 'user-1'])
      expect(run.personOf('user-1')).toMatchObject({
        isIdentified: true,
        properties: { plan: 'free', email: 'a@x.io' },
      })
      expect(run.factsOf('person_created')).toHaveLength(1)
      expect(run.factsOf('persons_merged')).toEqual([])
    },
  },
  {
    name: 'identify with neither id known creates one identified person holding both',
    events: [e(1, '$identify', 'user-1', { $anon_distinct_id: 'anon-1' })],
    expect: (run) => {
      expect(run.personOf('anon-1')?.uuid).toBe(uuidOf('user-1'))
      expect(idsOf(run, 'user-1')).toEqual(['anon-1', 'user-1'])
      expect(run.personOf('user-1')?.isIdentified).toBe(true)
    },
  },
  {
    name: 'identify merges two unidentified persons into the identified one, recording the merge',
    events: [
      e(1, 'pageview', 'anon-1', { $set: { a: 1, shared: 'anon' } }),
      e(2, 'pageview', 'user-1', { $set: { b: 2, shared: 'user' } }),
      e(3, '$identify', 'user-1', { $anon_distinct_id: 'anon-1' }),
    ],
    expect: (run) => {
      const kept = run.personOf('anon-1')
      expect(kept?.uuid).toBe(uuidOf('user-1'))
      // the kept person's own value wins a conflict
      expect(kept?.properties).toMatchObject({ a: 1, b: 2, shared: 'user' })
      expect(run.state.persons.has(uuidOf('anon-1'))).toBe(false)
      expect(run.factsOf('person_deleted').map((f) => f.uuid)).toEqual([uuidOf('anon-1')])
      expect(run.factsOf('persons_merged')).toEqual([
        expect.objectContaining({
          keptPersonUuid: uuidOf('user-1'),
          mergedPersonUuid: uuidOf('anon-1'),
          distinctIds: ['anon-1'],
          event: '$identify',
        }),
      ])
    },
  },
  {
    name: 'identify of an already identified person is refused with a warning',
    events: [
      e(1, '$identify', 'user-1', { $anon_distinct_id: 'anon-1' }),
      e(2, 'pageview', 'user-2'),
      e(3, '$identify', 'user-2', { $anon_distinct_id: 'user-1' }),
    ],
    expect: (run) => {
      expect(run.personOf('user-1')?.uuid).not.toBe(run.personOf('user-2')?.uuid)
      expect(run.factsOf('persons_merged')).toEqual([])
      expect(run.factsOf('ingestion_warning').map((w) => w.warningType)).toEqual([
        'cannot_merge_already_identified',
      ])
      // the event's own person is still marked identified
      expect(run.personOf('user-2')?.isIdentified).toBe(true)
    },
  },
  {
    name: 'alias onto a new id: the alias joins the existing person',
    events: [e(1, 'pageview', 'a'), e(2, '$create_alias', 'a', { alias: 'b' })],
    expect: (run) => {
      expect(run.personOf('b')?.uuid).toBe(uuidOf('a'))
      expect(idsOf(run, 'a')).toEqual(['a', 'b'])
    },
  },
  {
    name: 'alias the other way: the event id joins the person the alias already has',
    events: [e(1, 'pageview', 'b'), e(2, '$create_alias', 'a', { alias: 'b' })],
    expect: (run) => {
      expect(run.personOf('a')?.uuid).toBe(uuidOf('b'))
      expect(idsOf(run, 'b')).toEqual(['a', 'b'])
    },
  },
  {
    name: 'alias of two unidentified persons merges the alias person into the event person',
    events: [e(1, 'pageview', 'a'), e(2, 'pageview', 'b'), e(3, '$create_alias', 'a', { alias: 'b' })],
    expect: (run) => {
      expect(run.personOf('b')?.uuid).toBe(uuidOf('a'))
      expect(run.factsOf('persons_merged')).toHaveLength(1)
    },
  },
  {
    name: 'merge_dangerously merges even an identified person',
    events: [
      e(1, '$identify', 'user-1', { $anon_distinct_id: 'anon-1' }),
      e(2, '$identify', 'user-2', { $anon_distinct_id: 'anon-2' }),
      e(3, '$merge_dangerously', 'user-2', { alias: 'user-1' }),
    ],
    expect: (run) => {
      expect(run.personOf('user-1')?.uuid).toBe(uuidOf('user-2'))
      expect(idsOf(run, 'user-2')).toEqual(['anon-1', 'anon-2', 'user-1', 'user-2'])
      expect(run.factsOf('persons_merged')).toHaveLength(1)
    },
  },
  ...['anonymous', 'NULL'.toLowerCase(), '"undefined"', 'Guest', '   ', '[object Object]'].map((illegal) => ({
    name: `an illegal id (${JSON.stringify(illegal)}) is never merged on`,
    events: [e(1, 'pageview', 'user-1'), e(2, '$identify', 'user-1', { $anon_distinct_id: illegal })],
    expect: (run: ReturnType<typeof runEvents>) => {
      expect(run.personOf(illegal)).toBeUndefined()
      expect(run.factsOf('ingestion_warning')).toEqual([
        expect.objectContaining({
          warningType: 'cannot_merge_with_illegal_distinct_id',
          details: expect.objectContaining({ illegalDistinctId: illegal }),
        }),
      ])
    },
  })),
  {
    name: 'ids that only resemble illegal ones are merged (None is case-sensitive)',
    events: [e(1, 'pageview', 'user-1'), e(2, '$identify', 'user-1', { $anon_distinct_id: 'NONE' })],
    expect: (run) => expect(run.personOf('NONE')?.uuid).toBe(uuidOf('user-1')),
  },
  {
    name: '$set_once never overrides; $set does; $unset removes; each change is a new version',
    events: [
      e(1, 'pageview', 'u', { $set: { plan: 'free' }, $set_once: { first: 'a' } }),
      e(2, 'pageview', 'u', { $set: { plan: 'pro' }, $set_once: { first: 'b', referrer: 'x' } }),
      e(3, 'pageview', 'u', { $unset: ['plan'] }),
      e(4, 'pageview', 'u', { $set_once: { first: 'c' } }),
    ],
    expect: (run) => {
      expect(run.personOf('u')?.properties).toMatchObject({ first: 'a', referrer: 'x' })
      expect(run.personOf('u')?.properties).not.toHaveProperty('plan')
      expect(run.personOf('u')?.version).toBe(2)
      // the last event changes nothing, so it writes nothing
      expect(run.decisions[3]?.facts.map((f) => f.type)).toEqual(['event_ingested'])
    },
  },
  {
    name: 'a time capture could not use is reported as ignored_invalid_timestamp, and the event kept',
    events: [
      {
        ...e(1, 'pageview', 'u'),
        timestampWarnings: [{ field: 'timestamp', value: 'soon', reason: 'timestamp is not a time' }],
      },
    ],
    expect: (run) => {
      expect(run.decisions[0]?.outcome).toBe('ingested')
      expect(run.factsOf('ingestion_warning')).toEqual([
        expect.objectContaining({
          warningType: 'ignored_invalid_timestamp',
          details: {
            eventUuid: run.factsOf('event_ingested')[0]?.event.uuid,
            field: 'timestamp',
            value: 'soon',
            reason: 'timestamp is not a time',
          },
        }),
      ])
    },
  },
  {
    name: '$unset next to $set in one event: a key the person had is removed, a key set for the first time stays',
    events: [
      e(1, 'pageview', 'u', { $set: { plan: 'free' } }),
      e(2, 'pageview', 'u', { $set: { plan: 'pro', fresh: 1 }, $unset: ['plan', 'fresh'] }),
    ],
    expect: (run) => {
      expect(run.personOf('u')?.properties).not.toHaveProperty('plan')
      expect(run.personOf('u')?.properties).toMatchObject({ fresh: 1 })
    },
  },
  {
    name: '$set_once fills a null the person holds, unless its value is null too; $unset ignores keys that are not text',
    events: [
      e(1, 'pageview', 'u', { $set: { utm_source: null, utm_medium: null, n: 1 } }),
      e(2, 'pageview', 'u', { $set_once: { utm_source: 'ads', utm_medium: null }, $unset: [5, null, 'n'] }),
    ],
    expect: (run) => {
      expect(run.personOf('u')?.properties).toMatchObject({ utm_source: 'ads', utm_medium: null })
      expect(run.personOf('u')?.properties).not.toHaveProperty('n')
    },
  },
  {
    name: 'personless events create no person; a later identify gives their id a person of its uuid',
    events: [
      e(1, 'pageview', 'visitor', { $process_person_profile: false, $set: { ignored: true } }),
      e(2, 'pageview', 'visitor', { $process_person_profile: false }),
      e(3, '$identify', 'user-1', { $anon_distinct_id: 'visitor' }),
    ],
    expect: (run) => {
      expect(run.factsOf('personless_distinct_id_seen')).toHaveLength(1)
      const [first] = run.factsOf('event_ingested')
      expect(first?.event).toMatchObject({
        personId: uuidOf('visitor'),
        personMode: 'propertyless',
        personProperties: {},
        personCreatedAt: '1970-01-01T00:00:05.000Z',
      })
      expect(run.personOf('user-1')?.uuid).toBe(uuidOf('visitor'))
      expect(run.personOf('user-1')?.properties).not.toHaveProperty('ignored')
      // the id was used before it had a person: its first assignment is version 1
      expect(run.factsOf('distinct_id_assigned').find((f) => f.distinctId === 'visitor')?.version).toBe(1)
    },
  },
  {
    name: 'a personless $identify is dropped with a warning',
    events: [e(1, '$identify', 'u', { $process_person_profile: false, $anon_distinct_id: 'a' })],
    expect: (run) => {
      expect(run.decisions[0]?.outcome).toBe('dropped')
      expect(run.factsOf('ingestion_warning')[0]?.warningType).toBe(
        'invalid_event_when_process_person_profile_is_false',
      )
    },
  },
  {
    name: 'groups: types get indexes 0–4 in order of appearance, a sixth is ignored; events carry $group_N',
    events: [
      ...['company', 'team', 'org', 'project', 'workspace', 'sixth'].map((type, i) =>
        e(i + 1, '$groupidentify', 'u', {
          $group_type: type,
          $group_key: `${type}-1`,
          $group_set: { name: type },
        }),
      ),
      e(7, 'pageview', 'u', { $groups: { team: 'team-9', company: 'company-1', sixth: 'x' } }),
      e(8, '$groupidentify', 'u', {
        $group_type: 'company',
        $group_key: 'company-1',
        $group_set: { size: 5 },
      }),
    ],
    expect: (run) => {
      expect(run.factsOf('group_type_assigned').map((f) => [f.groupType, f.groupTypeIndex])).toEqual([
        ['company', 0],
        ['team', 1],
        ['org', 2],
        ['project', 3],
        ['workspace', 4],
      ])
      const pageview = run.factsOf('event_ingested').find((f) => f.event.event === 'pageview')
      expect(pageview?.event.properties).toMatchObject({ $group_0: 'company-1', $group_1: 'team-9' })
      expect(
        Object.keys(pageview?.event.properties ?? {}).filter((k) => k.startsWith('$group_')),
      ).toHaveLength(2)
      const company = run.factsOf('group_updated').filter((f) => f.groupKey === 'company-1')
      expect(company.map((f) => f.version)).toEqual([1, 2])
      expect(company.at(-1)?.properties).toEqual({ name: 'company', size: 5 })
      expect(run.factsOf('group_updated').some((f) => f.groupKey === 'sixth-1')).toBe(false)
      // $groupidentify never changes the person
      expect(run.factsOf('person_updated')).toEqual([])
    },
  },
  {
    name: 'the enriched event carries its person as it is after the event',
    events: [e(1, 'signup', 'u', { $set: { plan: 'pro' } })],
    expect: (run) => {
      expect(run.factsOf('event_ingested')[0]?.event).toMatchObject({
        personId: uuidOf('u'),
        personProperties: { plan: 'pro' },
        personCreatedAt: '2026-01-01T00:00:01.000Z',
        personMode: 'full',
      })
    },
  },
]

describe('person and group processing, PostHog scenarios', () => {
  it.each(scenarios)('$name', ({ events, expect: check }) => check(runEvents(events)))
})
