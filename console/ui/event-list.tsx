import { useState } from 'preact/hooks'
import type { CapturedEvent } from '../api/types.ts'
import { Link } from '../navigation.tsx'
import { hrefs } from '../router.ts'
import { PropertiesTable } from './properties.tsx'
import { Time } from './time.tsx'

/** Events, newest first; each opens to show its properties. */
export function EventList(props: {
  events: readonly CapturedEvent[]
  fresh?: ReadonlySet<string>
  showPerson?: boolean
}) {
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set())
  const toggle = (id: string) =>
    setOpen((current) => {
      const next = new Set(current)
      if (!next.delete(id)) next.add(id)
      return next
    })
  return (
    <ol class="events" aria-label="Events, newest first">
      {props.events.map((event) => {
        const expanded = open.has(event.id)
        return (
          <li key={event.id} class={props.fresh?.has(event.id) ? 'event fresh' : 'event'}>
            <button
              type="button"
              class="event-row"
              aria-expanded={expanded}
              aria-controls={`event-${event.id}`}
              onClick={() => toggle(event.id)}
            >
              <span class="event-time">
                <Time iso={event.timestamp} />
              </span>
              <span class="event-name">{event.event}</span>
              <span class="event-distinct-id">{event.distinct_id}</span>
              <span class="event-hint">{hintOf(event)}</span>
            </button>
            {expanded && (
              <div class="event-details" id={`event-${event.id}`}>
                <p class="muted">
                  uuid <code>{event.id}</code>
                  {props.showPerson !== false && (
                    <>
                      {' · '}
                      <Link href={hrefs.persons(event.distinct_id)}>person of {event.distinct_id}</Link>
                    </>
                  )}
                </p>
                {event.elements_chain !== '' && (
                  <p>
                    Elements <code class="value">{event.elements_chain}</code>
                  </p>
                )}
                <PropertiesTable properties={event.properties} label={`Properties of ${event.event}`} />
              </div>
            )}
          </li>
        )
      })}
    </ol>
  )
}

/** The one property that says most about where an event came from. */
function hintOf(event: CapturedEvent): string {
  for (const name of ['$current_url', '$screen_name', '$lib']) {
    const value = event.properties[name]
    if (typeof value === 'string' && value !== '') return value
  }
  return ''
}
