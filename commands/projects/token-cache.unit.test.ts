import { describe, expect, it } from 'vitest'
import type { Project, ProjectStore } from '../../ports/projects.ts'
import { createTokenCache } from './token-cache.ts'

const project: Project = {
  id: 1,
  name: 'p',
  apiToken: 'phc_known',
  anonymizeIps: false,
  createdAt: '2026-01-01T00:00:00.000Z',
}

function storeWith(
  lookups: string[],
  behaviour: (token: string) => Promise<Project | undefined>,
): ProjectStore {
  const unused = () => Promise.reject(new Error('not used by the cache'))
  return {
    findByToken: (token) => {
      lookups.push(token)
      return behaviour(token)
    },
    createProject: unused,
    addPersonalApiKey: unused,
    get: unused,
    findByPersonalApiKey: unused,
    list: unused,
    update: unused,
  }
}

describe('token cache', () => {
  it('answers from memory until the entry expires, and shares concurrent lookups', async () => {
    let clock = 0
    const lookups: string[] = []
    const cache = createTokenCache(
      storeWith(lookups, async (t) => (t === 'phc_known' ? project : undefined)),
      { ttlMs: 1000, now: () => clock },
    )
    const [a, b] = await Promise.all([cache.resolve('phc_known'), cache.resolve('phc_known')])
    expect(a).toBe(project)
    expect(b).toBe(project)
    expect(lookups).toEqual(['phc_known'])
    clock = 999
    await cache.resolve('phc_known')
    expect(lookups).toHaveLength(1)
    clock = 1001
    await cache.resolve('phc_known')
    expect(lookups).toHaveLength(2)
  })

  it('remembers unknown tokens for a shorter time', async () => {
    let clock = 0
    const lookups: string[] = []
    const cache = createTokenCache(
      storeWith(lookups, async () => undefined),
      { ttlMs: 10_000, unknownTtlMs: 100, now: () => clock },
    )
    expect(await cache.resolve('phc_new')).toBeNull()
    expect(cache.cached('phc_new')).toBeNull()
    clock = 101
    await cache.resolve('phc_new')
    expect(lookups).toEqual(['phc_new', 'phc_new'])
  })

  it('throws when the store is unreachable and keeps what it knew', async () => {
    let clock = 0
    let down = false
    const cache = createTokenCache(
      storeWith([], async () => {
        if (down) throw new Error('connection refused')
        return project
      }),
      { ttlMs: 10, now: () => clock },
    )
    await cache.resolve('phc_known')
    down = true
    clock = 100
    await expect(cache.resolve('phc_known')).rejects.toThrow('connection refused')
    expect(cache.cached('phc_known')).toBe(project)
    expect(cache.cached('phc_never_seen')).toBeUndefined()
  })
})
