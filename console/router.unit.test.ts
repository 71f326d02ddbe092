import { describe, expect, it } from 'vitest'
import { hrefs, routeOf, sectionOf } from './router.ts'

describe('the console reads its view from the URL', () => {
  it.each([
    ['/', '', { view: 'events', event: '', distinctId: '' }],
    ['/console', '', { view: 'events', event: '', distinctId: '' }],
    [
      '/console/events',
      '?event=signed_up&distinct_id=u%201',
      { view: 'events', event: 'signed_up', distinctId: 'u 1' },
    ],
    ['/console/persons', '?search=ada%40example.com', { view: 'persons', search: 'ada@example.com' }],
    [
      '/console/persons/0190f0a0-0000-7000-8000-000000000001/',
      '',
      { view: 'person', uuid: '0190f0a0-0000-7000-8000-000000000001' },
    ],
    ['/console/ingestion', '', { view: 'ingestion' }],
    ['/console/flags', '', { view: 'flags' }],
    ['/console/flags/new', '', { view: 'flag', id: 'new' }],
    ['/console/flags/12', '', { view: 'flag', id: 12 }],
    ['/console/apps/3', '', { view: 'app', id: 3 }],
    ['/console/apps/new', '', { view: 'app', id: 'new' }],
  ])('%s%s', (pathname, search, route) => {
    expect(routeOf(pathname, search)).toEqual(route)
  })

  it.each([
    '/console/flags/0',
    '/console/apps/x',
    '/console/ingestion/2',
    '/console/nowhere',
    '/elsewhere',
    '/console/persons/a/b',
  ])('%s is no view', (pathname) => {
    const route = routeOf(pathname, '')
    expect(route).toEqual({ view: 'unknown', path: pathname })
    expect(sectionOf(route)).toBeNull()
  })

  it('writes the URL it reads', () => {
    for (const href of [
      hrefs.events({ event: 'a b', distinctId: 'ü' }),
      hrefs.persons('x@y'),
      hrefs.person('p/1'),
      hrefs.flag(4),
      hrefs.app('new'),
    ]) {
      const url = new URL(href, 'http://sluice.test')
      const route = routeOf(url.pathname, url.search)
      expect(route.view).not.toBe('unknown')
    }
    const url = new URL(hrefs.events({ event: 'a b', distinctId: 'ü' }), 'http://sluice.test')
    expect(routeOf(url.pathname, url.search)).toEqual({ view: 'events', event: 'a b', distinctId: 'ü' })
    const person = new URL(hrefs.person('p/1'), 'http://sluice.test')
    expect(routeOf(person.pathname, '')).toEqual({ view: 'person', uuid: 'p/1' })
    expect(sectionOf(routeOf('/console/persons/x', ''))).toBe('persons')
  })
})
