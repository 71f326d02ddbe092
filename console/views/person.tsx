import type { Api } from '../api/client.ts'
import { query } from '../api/client.ts'
import type { CapturedEvent, Merge, Page, Person as PersonResult, Project } from '../api/types.ts'
import { Link } from '../navigation.tsx'
import { hrefs } from '../router.ts'
import { EventList } from '../ui/event-list.tsx'
import { ErrorNotice } from '../ui/notice.tsx'
import { usePoll } from '../ui/poll.ts'
import { PropertiesTable } from '../ui/properties.tsx'
import { Time } from '../ui/time.tsx'
import { displayName } from './persons.tsx'

/** One person: who they are, and why — their ids, properties, recent events and every merge that shaped them. */
export function Person(props: { api: Api; project: Project; uuid: string }) {
  const { api, project, uuid } = props
  const base = `/api/projects/${project.id}`
  const path = encodeURIComponent(uuid)
  const person = usePoll(() => api.get<PersonResult>(`${base}/persons/${path}/`), 0, [project.id, uuid])
  const merges = usePoll(() => api.get<Page<Merge>>(`${base}/persons/${path}/merges/`), 0, [project.id, uuid])
  const events = usePoll(
    () => api.get<Page<CapturedEvent>>(`${base}/events/${query({ person_id: uuid, limit: 50 })}`),
    0,
    [project.id, uuid],
  )

  if (person.error?.status === 404 || person.error?.code === 'invalid_input')
    return (
      <section aria-labelledby="view-title">
        <h1 id="view-title" tabIndex={-1}>
          No such person
        </h1>
        <p>
          No person of this project has the uuid <code>{uuid}</code>. A person merged into another lives on as
          that one: <Link href={hrefs.persons()}>search by distinct id</Link>.
        </p>
      </section>
    )
  const found = person.data
  return (
    <section aria-labelledby="view-title">
      <h1 id="view-title" tabIndex={-1}>
        {found ? displayName(found) : 'Person'}
      </h1>
      <ErrorNotice error={person.error} what="The person could not be read" />
      {found && (
        <>
          <p class="muted">
            uuid <code>{found.uuid}</code> · {found.is_identified ? 'identified' : 'anonymous'} · created{' '}
            <Time iso={found.created_at} />
          </p>
          <div class="columns">
            <section aria-labelledby="ids-title">
              <h2 id="ids-title">Distinct ids</h2>
              <ul class="chips" aria-labelledby="ids-title">
                {found.distinct_ids.map((id) => (
                  <li key={id}>
                    <code>{id}</code>
                  </li>
                ))}
              </ul>
            </section>
            <section aria-labelledby="properties-title">
              <h2 id="properties-title">Properties</h2>
              <PropertiesTable properties={found.properties} label="The person's properties" />
            </section>
          </div>
        </>
      )}
      <section aria-labelledby="merges-title">
        <h2 id="merges-title">How this person came together</h2>
        <ErrorNotice error={merges.error} what="The merge audit could not be read" />
        {merges.data && <MergeTimeline merges={merges.data.results} uuid={uuid} />}
      </section>
      <section aria-labelledby="events-title">
        <h2 id="events-title">Recent events</h2>
        <ErrorNotice error={events.error} what="The events could not be read" />
        {events.data &&
          (events.data.results.length === 0 ? (
            <p class="muted">No events of this person yet.</p>
          ) : (
            <EventList events={events.data.results} showPerson={false} />
          ))}
      </section>
    </section>
  )
}

/** The merge audit, oldest first: which event merged which person into which, bringing which ids. */
function MergeTimeline(props: { merges: readonly Merge[]; uuid: string }) {
  if (props.merges.length === 0)
    return <p class="muted">Never merged: every distinct id above joined this person directly.</p>
  const name = (personUuid: string) =>
    personUuid === props.uuid ? 'this person' : `person ${short(personUuid)}`
  return (
    <ol class="timeline">
      {props.merges.map((merge) => (
        <li key={`${merge.event_uuid}:${merge.merged_person_uuid}`}>
          <p class="timeline-when">
            <Time iso={merge.timestamp} />
          </p>
          <p>
            <strong>
              <code>{merge.event}</code>
            </strong>{' '}
            merged <span title={merge.merged_person_uuid}>person {short(merge.merged_person_uuid)}</span> into{' '}
            <span title={merge.kept_person_uuid}>{name(merge.kept_person_uuid)}</span>
          </p>
          <p>
            ids that came along:{' '}
            {merge.distinct_ids.map((id, index) => (
              <span key={id}>
                {index > 0 && ', '}
                <code>{id}</code>
              </span>
            ))}
          </p>
          <p class="muted">
            by event <code>{merge.event_uuid}</code>
          </p>
        </li>
      ))}
    </ol>
  )
}

const short = (uuid: string) => uuid.slice(0, 8)
