import { useEffect, useState } from 'preact/hooks'
import { type Api, query } from '../api/client.ts'
import type { CapturedEvent, Page, Project } from '../api/types.ts'
import { type LiveList, mergeNewest } from '../live/merge-events.ts'
import { livePollMs, pollAfter } from '../live/polling.ts'
import { navigate } from '../navigation.tsx'
import { hrefs } from '../router.ts'
import { EventList } from '../ui/event-list.tsx'
import { ErrorNotice } from '../ui/notice.tsx'
import { usePoll } from '../ui/poll.ts'
import { Ago } from '../ui/time.tsx'
import { FirstEvent } from './first-event.tsx'

/** How many of the newest events each poll asks for, and the list keeps. */
const pollSize = 100
const listSize = 500

/** The landing view: the project's events as they arrive, newest first. */
export function LiveEvents(props: { api: Api; project: Project; event: string; distinctId: string }) {
  const { api, project, event, distinctId } = props
  const [paused, setPaused] = useState(false)
  // what is listed, and for which filters: a poll for new filters must not start from the old list
  const subject = `${project.id}\u0000${event}\u0000${distinctId}`
  const [listed, setListed] = useState<{ subject: string; list: LiveList<CapturedEvent> } | undefined>()
  const list = listed?.subject === subject ? listed.list : undefined
  const poll = usePoll(
    () => {
      const after = pollAfter(list?.events[0]?.timestamp, list !== undefined, Date.now())
      const filters = { limit: pollSize, event, distinct_id: distinctId, after }
      return api.get<Page<CapturedEvent>>(`/api/projects/${project.id}/events/${query(filters)}`)
    },
    paused ? null : livePollMs,
    [subject],
  )
  useEffect(() => {
    const polled = poll.data?.results
    if (polled === undefined) return
    setListed((before) => ({
      subject,
      list: mergeNewest(before?.subject === subject ? before.list : undefined, polled, listSize),
    }))
  }, [poll.data])

  const filtered = event !== '' || distinctId !== ''
  return (
    <section aria-labelledby="view-title">
      <div class="view-head">
        <h1 id="view-title" tabIndex={-1}>
          Live events
        </h1>
        <p class="live-state" aria-live="off">
          {paused ? (
            <span class="badge">paused</span>
          ) : (
            <span class="badge live">
              <span class="pulse" aria-hidden="true" /> live
            </span>
          )}{' '}
          <Ago at={poll.updatedAt} prefix="updated" />{' '}
          <button type="button" class="secondary" onClick={() => setPaused(!paused)}>
            {paused ? 'Resume' : 'Pause'}
          </button>
        </p>
      </div>
      <Filters event={event} distinctId={distinctId} />
      <ErrorNotice error={poll.error} what="The newest events could not be read" />
      {list === undefined ? (
        poll.error === undefined && <p class="muted">Loading the newest events…</p>
      ) : list.events.length > 0 ? (
        <EventList events={list.events} fresh={list.fresh} />
      ) : filtered ? (
        <p class="empty" role="status">
          No event{event !== '' ? ` named “${event}”` : ''}
          {distinctId !== '' ? ` from “${distinctId}”` : ''} yet; new ones show here as they arrive.
        </p>
      ) : (
        <FirstEvent project={project} />
      )}
    </section>
  )
}

function Filters(props: { event: string; distinctId: string }) {
  const [event, setEvent] = useState(props.event)
  const [distinctId, setDistinctId] = useState(props.distinctId)
  useEffect(() => setEvent(props.event), [props.event])
  useEffect(() => setDistinctId(props.distinctId), [props.distinctId])
  return (
    <form
      class="filters"
      onSubmit={(e) => {
        e.preventDefault()
        navigate(hrefs.events({ event: event.trim(), distinctId: distinctId.trim() }), { replace: true })
      }}
    >
      <label>
        Event name
        <input
          name="event"
          value={event}
          placeholder="e.g. $pageview"
          onInput={(e) => setEvent(e.currentTarget.value)}
        />
      </label>
      <label>
        Distinct id
        <input
          name="distinct_id"
          value={distinctId}
          placeholder="e.g. user-1"
          onInput={(e) => setDistinctId(e.currentTarget.value)}
        />
      </label>
      <button type="submit">Filter</button>
      {(props.event !== '' || props.distinctId !== '') && (
        <button type="button" class="secondary" onClick={() => navigate(hrefs.events(), { replace: true })}>
          Show all
        </button>
      )}
    </form>
  )
}
