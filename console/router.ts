import { query } from './api/client.ts'

/** The console's views, named by their URL so each can be opened, bookmarked and shared directly. */
export type Route =
  | { view: 'events'; event: string; distinctId: string }
  | { view: 'persons'; search: string }
  | { view: 'person'; uuid: string }
  | { view: 'ingestion' }
  | { view: 'flags' }
  | { view: 'flag'; id: number | 'new' }
  | { view: 'apps' }
  | { view: 'app'; id: number | 'new' }
  | { view: 'unknown'; path: string }

export type Section = 'events' | 'persons' | 'ingestion' | 'flags' | 'apps'

export function routeOf(pathname: string, search: string): Route {
  const params = new URLSearchParams(search)
  const parts = pathname.split('/').filter((part) => part !== '')
  if (parts.length === 0) return eventsRoute(params)
  if (parts[0] !== 'console') return { view: 'unknown', path: pathname }
  const [, section, item, ...rest] = parts.map(decodeURIComponent)
  if (rest.length > 0) return { view: 'unknown', path: pathname }
  switch (section) {
    case undefined:
    case 'events':
      return item === undefined ? eventsRoute(params) : { view: 'unknown', path: pathname }
    case 'persons':
      return item === undefined
        ? { view: 'persons', search: params.get('search') ?? '' }
        : { view: 'person', uuid: item }
    case 'ingestion':
      return item === undefined ? { view: 'ingestion' } : { view: 'unknown', path: pathname }
    case 'flags':
    case 'apps': {
      const one = section === 'flags' ? 'flag' : 'app'
      if (item === undefined) return { view: section }
      if (item === 'new') return { view: one, id: 'new' }
      const id = Number(item)
      return Number.isSafeInteger(id) && id > 0 ? { view: one, id } : { view: 'unknown', path: pathname }
    }
    default:
      return { view: 'unknown', path: pathname }
  }
}

function eventsRoute(params: URLSearchParams): Route {
  return { view: 'events', event: params.get('event') ?? '', distinctId: params.get('distinct_id') ?? '' }
}

/** Which part of the navigation a route belongs to. */
export function sectionOf(route: Route): Section | null {
  switch (route.view) {
    case 'events':
      return 'events'
    case 'persons':
    case 'person':
      return 'persons'
    case 'flags':
    case 'flag':
      return 'flags'
    case 'apps':
    case 'app':
      return 'apps'
    case 'ingestion':
      return 'ingestion'
    case 'unknown':
      return null
  }
}

export const hrefs = {
  events: (filters: { event?: string; distinctId?: string } = {}) =>
    `/console/events${query({ event: filters.event, distinct_id: filters.distinctId })}`,
  persons: (search = '') => `/console/persons${query({ search })}`,
  person: (uuid: string) => `/console/persons/${encodeURIComponent(uuid)}`,
  ingestion: () => '/console/ingestion',
  flags: () => '/console/flags',
  flag: (id: number | 'new') => `/console/flags/${id}`,
  apps: () => '/console/apps',
  app: (id: number | 'new') => `/console/apps/${id}`,
}
