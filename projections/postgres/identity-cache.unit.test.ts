import { describe, expect, it } from 'vitest'
import type { PersonSnapshot } from '../../schema/facts.ts'
import { identityCache } from './identity-cache.ts'

const person = (uuid: string, version = 0): PersonSnapshot => ({
  teamId: 1,
  uuid,
  createdAt: '2026-01-01T00:00:00.000Z',
  properties: { v: version },
  isIdentified: false,
  version,
})

describe('identity cache', () => {
  it('keeps what a transaction wrote, and drops deleted persons', () => {
    const cache = identityCache(10)
    cache.remember({
      persons: [person('a'), person('b')],
      deletedPersons: [],
      distinctIds: [{ teamId: 1, distinctId: 'x', personUuid: 'a', version: 0 }],
    })
    cache.remember({
      persons: [person('a', 1)],
      deletedPersons: ['b'],
      distinctIds: [{ teamId: 1, distinctId: 'y', personUuid: 'a', version: 1 }],
    })
    expect(cache.person('a')?.version).toBe(1)
    expect(cache.person('b')).toBeUndefined()
    expect(cache.distinctId(1, 'y')).toEqual({ personUuid: 'a', version: 1 })
    expect(cache.distinctId(2, 'y')).toBeUndefined()
  })

  it('evicts the entries first remembered longest ago', () => {
    const cache = identityCache(2)
    const remember = (uuid: string) =>
      cache.remember({ persons: [person(uuid)], deletedPersons: [], distinctIds: [] })
    remember('a')
    remember('b')
    remember('a') // written again: still the oldest entry
    remember('c')
    expect(cache.person('a')).toBeUndefined()
    expect(cache.person('b')).toBeDefined()
    expect(cache.person('c')?.uuid).toBe('c')
    cache.forget()
    expect(cache.person('a')).toBeUndefined()
  })
})
