import { type ApiError, createApi } from './api/client.ts'
import type { Page, Project } from './api/types.ts'

/**
 * The personal API key is asked for once and kept in the tab's session storage: it survives reloads
 * and links opened in the same tab, and is gone when the tab closes.
 */
const storageKey = 'sluice.personal-api-key'

export function storedKey(): string | null {
  return sessionStorage.getItem(storageKey)
}

export function keepKey(key: string): void {
  sessionStorage.setItem(storageKey, key)
}

export function forgetKey(): void {
  sessionStorage.removeItem(storageKey)
}

/** The project the key opens; throws the API's refusal. */
export async function projectOfKey(key: string): Promise<Project> {
  const { results } = await createApi(key).get<Page<Project>>('/api/projects/')
  const [project] = results
  if (project === undefined) throw new Error('sluice listed no project for this key')
  return project
}

/** What a person is told when a key does not open the console, and what to do about it. */
export function refusalMessage(error: ApiError): string {
  switch (error.code) {
    case 'auth/invalid_api_key':
      return 'sluice does not know this personal API key. Keys start with phx_; sluice shows one once, when it makes it: `sluice start` on a fresh data dir, or `npx sluice keys create`.'
    case 'auth/missing_api_key':
      return 'Type the personal API key (phx_…) that sluice printed when it made it.'
    case 'unreachable':
      return 'sluice is not answering; check that it is running, then sign in again.'
    default:
      return `sluice refused: ${error.detail} (${error.code})`
  }
}
