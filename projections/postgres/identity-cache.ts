import type { PersonSnapshot } from '../../schema/facts.ts'
import { identityKey } from '../../schema/identity-keys.ts'

export interface CachedDistinctId {
  personUuid: string
  version: number
}

/** What one committed transaction wrote, for the cache to take over. */
export interface IdentityChanges {
  persons: PersonSnapshot[]
  deletedPersons: string[]
  distinctIds: { teamId: number; distinctId: string; personUuid: string; version: number }[]
}

/**
 * The persons and distinct ids ingest committed most recently, so the next batches need not read
 * them back: most events come from people seen moments ago. The entries first remembered longest ago
 * are the first to go.
 * Snapshots are shared, never changed (facts and snapshots are immutable throughout).
 *
 * Whether an entry may be trusted is the store's call: with the database to itself (PGlite) it is
 * the truth; with other writers (a PostgreSQL server) it is used only where the row's version,
 * read under its lock, still matches.
 */
export interface IdentityCache {
  person(uuid: string): PersonSnapshot | undefined
  distinctId(teamId: number, distinctId: string): CachedDistinctId | undefined
  remember(changes: IdentityChanges): void
  forget(): void
}

export function identityCache(maxEntries: number): IdentityCache {
  const persons = new Map<string, PersonSnapshot>()
  const distinctIds = new Map<string, CachedDistinctId>()

  // Map keeps insertion order and the front is evicted first: the entries first remembered longest
  // ago (moving an entry to the back on every use would cost more than the rare second read).
  const put = <V>(map: Map<string, V>, k: string, value: V) => {
    map.set(k, value)
    if (map.size > maxEntries) map.delete(map.keys().next().value!)
  }

  return {
    person: (uuid) => persons.get(uuid),
    distinctId: (teamId, distinctId) => distinctIds.get(identityKey(teamId, distinctId)),
    remember(changes) {
      for (const person of changes.persons) put(persons, person.uuid, person)
      for (const uuid of changes.deletedPersons) persons.delete(uuid)
      for (const d of changes.distinctIds)
        put(distinctIds, identityKey(d.teamId, d.distinctId), {
          personUuid: d.personUuid,
          version: d.version,
        })
    },
    forget() {
      persons.clear()
      distinctIds.clear()
    },
  }
}
