import type { Project } from '../api/types.ts'

/** An empty project teaches how to send its first event, and waits for it. */
export function FirstEvent(props: { project: Project }) {
  const token = props.project.api_token
  // the console is served by the api role; in one process (the default) capture answers here too
  const host = location.origin
  const snippet = [
    "import posthog from 'posthog-js'",
    '',
    `posthog.init('${token}', { api_host: '${host}' })`,
    "posthog.capture('my_first_event', { plan: 'pro' })",
  ].join('\n')
  const curl = `curl -s ${host}/batch/ -H 'content-type: application/json' \\
  -d '{"api_key": "${token}", "batch": [{"event": "my_first_event", "distinct_id": "user-1"}]}'`
  return (
    <div class="first-event">
      <p class="waiting" role="status">
        <span class="pulse" aria-hidden="true" /> Waiting for the first event…
      </p>
      <p>
        Nothing has arrived in <strong>{props.project.name}</strong> yet. Send an event with the project token
        and it shows here by itself, within a second or two.
      </p>
      <h2>Project token</h2>
      <p>
        <code class="token">{token}</code>
      </p>
      <h2>From a web page, with posthog-js</h2>
      <pre>
        <code>{snippet}</code>
      </pre>
      <h2>From a terminal</h2>
      <pre>
        <code>{curl}</code>
      </pre>
      <p class="muted">When capture runs as a process of its own, send to its address instead of {host}.</p>
    </div>
  )
}
