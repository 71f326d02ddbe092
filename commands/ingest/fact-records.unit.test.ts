import { describe, expect, it } from 'vitest'
import { Topics } from '../../schema/topics.ts'
import { clickHouseTime, factRecords } from './fact-records.ts'

describe('fact records', () => {
  it('formats times as ClickHouse reads them', () => {
    expect(clickHouseTime('2026-01-02T03:04:05.678Z')).toBe('2026-01-02 03:04:05.678')
    expect(clickHouseTime('2026-01-02T03:04:05Z')).toBe('2026-01-02 03:04:05.000')
    expect(clickHouseTime('2026-01-02T03:04:05.6+00:00')).toBe('2026-01-02 03:04:05.600')
    expect(clickHouseTime('2026-01-02T03:04:05.678Z', false)).toBe('2026-01-02 03:04:05')
  })

  it('turns person, distinct id and merge facts into PostHog topic messages', () => {
    const records = factRecords([
      {
        type: 'person_updated',
        teamId: 2,
        uuid: 'p1',
        createdAt: '2026-01-01T00:00:00.000Z',
        properties: { a: 1 },
        isIdentified: true,
        version: 4,
      },
      { type: 'distinct_id_assigned', teamId: 2, distinctId: 'd1', personUuid: 'p1', version: 1 },
      { type: 'person_deleted', teamId: 2, uuid: 'p2', version: 103 },
      { type: 'personless_distinct_id_seen', teamId: 2, distinctId: 'd9' },
    ])
    expect(records.map((r) => [r.topic, r.key, JSON.parse(r.value)])).toEqual([
      [
        Topics.persons,
        'p1',
        {
          id: 'p1',
          created_at: '2026-01-01 00:00:00.000',
          properties: '{"a":1}',
          team_id: 2,
          is_identified: 1,
          is_deleted: 0,
          version: 4,
        },
      ],
      [
        Topics.distinctIds,
        'd1',
        { person_id: 'p1', team_id: 2, distinct_id: 'd1', version: 1, is_deleted: 0 },
      ],
      [
        Topics.persons,
        'p2',
        {
          id: 'p2',
          created_at: '1970-01-01 00:00:00.000',
          properties: '{}',
          team_id: 2,
          is_identified: 0,
          is_deleted: 1,
          version: 103,
        },
      ],
    ])
  })

  it('sends a person and a distinct id changed several times in a batch once, in the last state', () => {
    const person = (version: number) => ({
      type: 'person_updated' as const,
      teamId: 2,
      uuid: 'p1',
      createdAt: '2026-01-01T00:00:00.000Z',
      properties: { v: version },
      isIdentified: false,
      version,
    })
    const records = factRecords([
      person(1),
      { type: 'distinct_id_assigned', teamId: 2, distinctId: 'd1', personUuid: 'p1', version: 0 },
      person(2),
      { type: 'distinct_id_assigned', teamId: 2, distinctId: 'd1', personUuid: 'p9', version: 1 },
      { type: 'distinct_id_assigned', teamId: 3, distinctId: 'd1', personUuid: 'p7', version: 0 },
    ])
    expect(records.map((r) => [r.topic, JSON.parse(r.value).version, JSON.parse(r.value).team_id])).toEqual([
      [Topics.persons, 2, 2],
      [Topics.distinctIds, 1, 2],
      [Topics.distinctIds, 0, 3],
    ])
  })
})
