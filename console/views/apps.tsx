import { useState } from 'preact/hooks'
import { type Api, query } from '../api/client.ts'
import type { App, AppLogEntry, Page, Project } from '../api/types.ts'
import { Link } from '../navigation.tsx'
import { hrefs } from '../router.ts'
import { ErrorNotice } from '../ui/notice.tsx'
import { usePoll } from '../ui/poll.ts'
import { Editing, SaveProblemNotice, useListWithChanges, useSave } from '../ui/save.tsx'
import { Switch } from '../ui/switch.tsx'
import { Time } from '../ui/time.tsx'

const newAppSource = `// Runs in ingest on each event of the project, before persons are processed.
// Return the event, changed or not, or null to drop it.
export function processEvent(event, { config }) {
  return event
}
`

/** The project's apps, in the order they run, each switched on and off in place. */
export function Apps(props: { api: Api; project: Project }) {
  const { api, project } = props
  const { list: apps, problem, change } = useListWithChanges<App>(api, `/api/projects/${project.id}/apps/`)
  return (
    <section aria-labelledby="view-title">
      <div class="view-head">
        <h1 id="view-title" tabIndex={-1}>
          Apps
        </h1>
        <Link class="button" href={hrefs.app('new')}>
          New app
        </Link>
      </div>
      <ErrorNotice error={apps.error} what="The apps could not be read" />
      <ErrorNotice error={problem} what="The app could not be switched" />
      {apps.data &&
        (apps.data.results.length === 0 ? (
          <p class="empty">
            No app yet. An app is JavaScript that changes or drops each event in ingest, before persons are
            processed; it runs in a sandbox with a memory and time limit.
          </p>
        ) : (
          <div class="table-scroll">
            <table>
              <caption class="visually-hidden">Apps, in the order they run</caption>
              <thead>
                <tr>
                  <th scope="col" class="number">
                    Order
                  </th>
                  <th scope="col">Name</th>
                  <th scope="col" class="number">
                    Version
                  </th>
                  <th scope="col">Enabled</th>
                </tr>
              </thead>
              <tbody>
                {apps.data.results.map((app) => (
                  <tr key={app.id}>
                    <td class="number">{app.order}</td>
                    <td>
                      <Link href={hrefs.app(app.id)}>{app.name}</Link>
                    </td>
                    <td class="number">{app.version}</td>
                    <td>
                      <Switch
                        checked={app.enabled}
                        label={app.enabled ? 'on' : 'off'}
                        name={`${app.name} enabled`}
                        onChange={(on) => change(app, { enabled: on })}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
    </section>
  )
}

/** Makes an app, or changes one: its name, source, config, order and whether it runs; and what it logged. */
export function AppEditor(props: { api: Api; project: Project; id: number | 'new' }) {
  const { api, project, id } = props
  return (
    <Editing<App> api={api} collection={`/api/projects/${project.id}/apps/`} id={id} what="App">
      {(app) => <AppForm api={api} project={project} id={id} app={app} />}
    </Editing>
  )
}

function AppForm(props: { api: Api; project: Project; id: number | 'new'; app: App | undefined }) {
  const { api, project, id, app } = props
  const base = `/api/projects/${project.id}/apps/`
  const [name, setName] = useState(app?.name ?? '')
  const [source, setSource] = useState(app?.source ?? newAppSource)
  const [config, setConfig] = useState(JSON.stringify(app?.config ?? {}, null, 2))
  const [order, setOrder] = useState(app === undefined ? '' : String(app.order))
  const [enabled, setEnabled] = useState(app?.enabled ?? true)
  const { problem, setProblem, saving, save } = useSave(api, base, id, hrefs.apps())

  const saveApp = () => {
    let parsedConfig: unknown
    try {
      parsedConfig = JSON.parse(config)
    } catch (error) {
      return setProblem(`The config is not JSON: ${error instanceof Error ? error.message : String(error)}`)
    }
    if (typeof parsedConfig !== 'object' || parsedConfig === null || Array.isArray(parsedConfig))
      return setProblem('The config is a JSON object, such as {"greeting": "hello"}.')
    return save({
      name: name.trim(),
      source,
      config: parsedConfig,
      enabled,
      ...(order.trim() === '' ? {} : { order: Number(order) }),
    })
  }
  return (
    <section aria-labelledby="view-title">
      <h1 id="view-title" tabIndex={-1}>
        {id === 'new' ? 'New app' : `App ${name}`}
      </h1>
      <form
        class="editor"
        onSubmit={(e) => {
          e.preventDefault()
          void saveApp()
        }}
      >
        <label>
          Name
          <input name="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Order
          <input
            name="order"
            type="number"
            step={1}
            value={order}
            placeholder="after the others"
            onInput={(e) => setOrder(e.currentTarget.value)}
          />
          <span class="hint">Apps run from the lowest order to the highest.</span>
        </label>
        <Switch checked={enabled} label="Enabled" onChange={setEnabled} />
        <label>
          Source
          <textarea
            name="source"
            rows={14}
            spellcheck={false}
            value={source}
            onInput={(e) => setSource(e.currentTarget.value)}
          />
          <span class="hint">
            JavaScript defining <code>processEvent(event, meta)</code>; <code>meta.config</code> is the config
            below.
          </span>
        </label>
        <label>
          Config (JSON)
          <textarea
            name="config"
            rows={4}
            spellcheck={false}
            value={config}
            onInput={(e) => setConfig(e.currentTarget.value)}
          />
        </label>
        <SaveProblemNotice problem={problem} what="sluice did not save the app" />
        <div class="actions">
          <button type="submit" disabled={saving}>
            {id === 'new' ? 'Create app' : 'Save app'}
          </button>
          <Link href={hrefs.apps()}>Cancel</Link>
        </div>
      </form>
      {id !== 'new' && <AppLogs api={api} project={project} id={id} />}
    </section>
  )
}

function AppLogs(props: { api: Api; project: Project; id: number }) {
  const logs = usePoll(
    () =>
      props.api.get<Page<AppLogEntry>>(
        `/api/projects/${props.project.id}/apps/${props.id}/logs/${query({ limit: 50 })}`,
      ),
    5000,
    [props.project.id, props.id],
  )
  return (
    <section aria-labelledby="logs-title">
      <h2 id="logs-title">What it logged</h2>
      <ErrorNotice error={logs.error} what="The app's log could not be read" />
      {logs.data &&
        (logs.data.results.length === 0 ? (
          <p class="muted">Nothing yet: what the app writes with console.log and its errors show here.</p>
        ) : (
          <div class="table-scroll">
            <table>
              <caption class="visually-hidden">The app's log, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Level</th>
                  <th scope="col">Message</th>
                  <th scope="col">Event</th>
                </tr>
              </thead>
              <tbody>
                {logs.data.results.map((entry, index) => (
                  <tr key={index} class={entry.level === 'error' ? 'stuck' : undefined}>
                    <td>
                      <Time iso={entry.timestamp} />
                    </td>
                    <td>{entry.level}</td>
                    <td>
                      <span class="value">{entry.message}</span>
                    </td>
                    <td>
                      {entry.event_uuid ? <code>{entry.event_uuid}</code> : <span class="muted">—</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
    </section>
  )
}
