import { useEffect, useState } from 'preact/hooks'
import { type Api, query } from '../api/client.ts'
import type { Page, Person, Project } from '../api/types.ts'
import { Link, navigate } from '../navigation.tsx'
import { hrefs } from '../router.ts'
import { ErrorNotice } from '../ui/notice.tsx'
import { usePoll } from '../ui/poll.ts'
import { Time } from '../ui/time.tsx'

/** Persons found by a distinct id or an email (the newest persons when nothing is asked). */
export function Persons(props: { api: Api; project: Project; search: string }) {
  const { api, project, search } = props
  const [typed, setTyped] = useState(search)
  useEffect(() => setTyped(search), [search])
  const found = usePoll(
    () => api.get<Page<Person>>(`/api/projects/${project.id}/persons/${query({ search, limit: 50 })}`),
    0,
    [project.id, search],
  )
  const persons = found.data?.results
  return (
    <section aria-labelledby="view-title">
      <h1 id="view-title" tabIndex={-1}>
        Persons
      </h1>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault()
          navigate(hrefs.persons(typed.trim()), { replace: true })
        }}
      >
        <label>
          Distinct id or email
          <input
            name="search"
            type="search"
            value={typed}
            placeholder="e.g. user-1 or ada@example.com"
            onInput={(e) => setTyped(e.currentTarget.value)}
          />
        </label>
        <button type="submit">Search</button>
      </form>
      <ErrorNotice error={found.error} what="Persons could not be read" />
      {persons === undefined ? (
        found.error === undefined && <p class="muted">Searching…</p>
      ) : persons.length === 0 ? (
        <p class="empty" role="status">
          {search === ''
            ? 'No person yet: a person is made by the first event of a distinct id that processes persons.'
            : `No person has the distinct id “${search}”, or an email containing it.`}
        </p>
      ) : (
        <div class="table-scroll">
          <table>
            <caption class="visually-hidden">
              {search === '' ? 'The newest persons' : `Persons matching ${search}`}
            </caption>
            <thead>
              <tr>
                <th scope="col">Person</th>
                <th scope="col">Distinct ids</th>
                <th scope="col">Identified</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {persons.map((person) => (
                <tr key={person.uuid}>
                  <td>
                    <Link href={hrefs.person(person.uuid)}>{displayName(person)}</Link>
                  </td>
                  <td>{shortList(person.distinct_ids)}</td>
                  <td>{person.is_identified ? 'yes' : 'no'}</td>
                  <td>
                    <Time iso={person.created_at} seconds={false} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}

/** How a person is called: their email or name when they have one, else their first distinct id. */
export function displayName(person: Person): string {
  for (const name of ['email', 'name', '$email']) {
    const value = person.properties[name]
    if (typeof value === 'string' && value !== '') return value
  }
  return person.distinct_ids[0] ?? person.uuid
}

function shortList(ids: readonly string[]): string {
  return ids.length <= 3 ? ids.join(', ') : `${ids.slice(0, 3).join(', ')} and ${ids.length - 3} more`
}
