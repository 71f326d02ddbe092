import { describe, expect, it } from 'vitest'
import { mergeNewest } from './merge-events.ts'

const event = (id: string, second: number) => ({
  id,
  timestamp: `2026-12-01T10:00:${String(second).padStart(2, '0')}.000Z`,
})

describe('the live list takes each poll of the newest events', () => {
  it('lists the first poll as it came, nothing marked new', () => {
    const list = mergeNewest(undefined, [event('b', 2), event('a', 1)], 10)
    expect(list.events.map((e) => e.id)).toEqual(['b', 'a'])
    expect(list.fresh.size).toBe(0)
  })

  it('adds what is new on top, once, and marks only that as new', () => {
    const first = mergeNewest(undefined, [event('b', 2), event('a', 1)], 10)
    const second = mergeNewest(first, [event('c', 3), event('b', 2), event('a', 1)], 10)
    expect(second.events.map((e) => e.id)).toEqual(['c', 'b', 'a'])
    expect([...second.fresh]).toEqual(['c'])
    const third = mergeNewest(second, [event('c', 3), event('b', 2)], 10)
    expect(third.events.map((e) => e.id)).toEqual(['c', 'b', 'a'])
    expect(third.fresh.size).toBe(0)
  })

  it('places a late event by its own time, with a tie broken by uuid as the API does', () => {
    const list = mergeNewest(
      mergeNewest(undefined, [event('x', 5), event('m', 1)], 10),
      [event('late', 3), event('y', 5)],
      10,
    )
    expect(list.events.map((e) => e.id)).toEqual(['y', 'x', 'late', 'm'])
    expect([...list.fresh].sort()).toEqual(['late', 'y'])
  })

  it('keeps only the newest', () => {
    const list = mergeNewest(mergeNewest(undefined, [event('b', 2), event('a', 1)], 2), [event('c', 3)], 2)
    expect(list.events.map((e) => e.id)).toEqual(['c', 'b'])
  })
})
