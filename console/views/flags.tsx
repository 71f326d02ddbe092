import { useState } from 'preact/hooks'
import type { Api } from '../api/client.ts'
import type { Flag, Project } from '../api/types.ts'
import { describeRollout, newFlagFilters, parseFilters } from '../flags/describe-flag.ts'
import { Link } from '../navigation.tsx'
import { hrefs } from '../router.ts'
import { ErrorNotice } from '../ui/notice.tsx'
import { Editing, SaveProblemNotice, useListWithChanges, useSave } from '../ui/save.tsx'
import { Switch } from '../ui/switch.tsx'

/** The project's feature flags, each switched on and off in place. */
export function Flags(props: { api: Api; project: Project }) {
  const { api, project } = props
  const {
    list: flags,
    problem,
    change,
  } = useListWithChanges<Flag>(api, `/api/projects/${project.id}/feature_flags/`)
  return (
    <section aria-labelledby="view-title">
      <div class="view-head">
        <h1 id="view-title" tabIndex={-1}>
          Feature flags
        </h1>
        <Link class="button" href={hrefs.flag('new')}>
          New flag
        </Link>
      </div>
      <ErrorNotice error={flags.error} what="The flags could not be read" />
      <ErrorNotice error={problem} what="The flag could not be switched" />
      {flags.data &&
        (flags.data.results.length === 0 ? (
          <p class="empty">
            No flag yet. A flag made here is served to posthog-js and posthog-node at once, evaluated as
            PostHog evaluates it.
          </p>
        ) : (
          <div class="table-scroll">
            <table>
              <caption class="visually-hidden">Feature flags</caption>
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col">Name</th>
                  <th scope="col">Released to</th>
                  <th scope="col">Enabled</th>
                </tr>
              </thead>
              <tbody>
                {flags.data.results.map((flag) => (
                  <tr key={flag.id}>
                    <td>
                      <Link href={hrefs.flag(flag.id)}>
                        <code>{flag.key}</code>
                      </Link>
                    </td>
                    <td>{flag.name}</td>
                    <td>{describeRollout(flag.filters)}</td>
                    <td>
                      <Switch
                        checked={flag.active}
                        label={flag.active ? 'on' : 'off'}
                        name={`${flag.key} enabled`}
                        onChange={(on) => change(flag, { active: on })}
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

/** Makes a flag, or changes one: key, name, on or off, and its release conditions in PostHog's `filters`. */
export function FlagEditor(props: { api: Api; project: Project; id: number | 'new' }) {
  const { api, project, id } = props
  return (
    <Editing<Flag> api={api} collection={`/api/projects/${project.id}/feature_flags/`} id={id} what="Flag">
      {(flag) => <FlagForm api={api} project={project} id={id} flag={flag} />}
    </Editing>
  )
}

function FlagForm(props: { api: Api; project: Project; id: number | 'new'; flag: Flag | undefined }) {
  const { api, project, id, flag } = props
  const base = `/api/projects/${project.id}/feature_flags/`
  const [key, setKey] = useState(flag?.key ?? '')
  const [name, setName] = useState(flag?.name ?? '')
  const [active, setActive] = useState(flag?.active ?? true)
  const [filters, setFilters] = useState(JSON.stringify(flag?.filters ?? newFlagFilters, null, 2))
  const { problem, setProblem, saving, save } = useSave(api, base, id, hrefs.flags())

  const saveFlag = () => {
    const parsed = parseFilters(filters)
    if ('problem' in parsed) return setProblem(parsed.problem)
    return save({ key: key.trim(), name, active, filters: parsed.filters })
  }
  return (
    <section aria-labelledby="view-title">
      <h1 id="view-title" tabIndex={-1}>
        {id === 'new' ? 'New feature flag' : `Flag ${key}`}
      </h1>
      <form
        class="editor"
        onSubmit={(e) => {
          e.preventDefault()
          void saveFlag()
        }}
      >
        <label>
          Key
          <input
            name="key"
            required
            pattern="[a-zA-Z0-9_\-]+"
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
          />
          <span class="hint">What the SDKs ask for: letters, digits, - and _.</span>
        </label>
        <label>
          Name
          <input name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <Switch checked={active} label="Enabled" onChange={setActive} />
        <label>
          Release conditions (PostHog's <code>filters</code>, JSON)
          <textarea
            name="filters"
            rows={12}
            spellcheck={false}
            value={filters}
            onInput={(e) => setFilters(e.currentTarget.value)}
          />
          <span class="hint">
            Each of <code>groups</code> is a condition: its <code>properties</code> (all must match) and its{' '}
            <code>rollout_percentage</code>. <code>multivariate.variants</code> splits those it releases to.
          </span>
        </label>
        <SaveProblemNotice problem={problem} what="sluice did not save the flag" />
        <div class="actions">
          <button type="submit" disabled={saving}>
            {id === 'new' ? 'Create flag' : 'Save flag'}
          </button>
          <Link href={hrefs.flags()}>Cancel</Link>
        </div>
      </form>
    </section>
  )
}
