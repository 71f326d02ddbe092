import { useState } from 'preact/hooks'
import { asApiError } from '../api/client.ts'
import type { Project } from '../api/types.ts'
import { keepKey, projectOfKey, refusalMessage } from '../session.ts'

/** Asks once for the personal API key, tries it on the API, and keeps it for the tab's session. */
export function SignIn(props: { message?: string; onSignedIn(key: string, project: Project): void }) {
  const [key, setKey] = useState('')
  const [message, setMessage] = useState(props.message)
  const [trying, setTrying] = useState(false)
  const submit = async () => {
    const typed = key.trim()
    if (typed === '') return setMessage('Type the personal API key first: it starts with phx_.')
    setTrying(true)
    setMessage(undefined)
    try {
      const project = await projectOfKey(typed)
      keepKey(typed)
      props.onSignedIn(typed, project)
    } catch (error) {
      setMessage(refusalMessage(asApiError(error)))
      setTrying(false)
    }
  }
  return (
    <main id="content" class="sign-in">
      <h1>sluice</h1>
      <p>The console shows a project's events as they arrive, its persons and how ingestion is doing.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault()
          void submit()
        }}
      >
        <label>
          Personal API key
          <input
            name="personal_api_key"
            type="password"
            autocomplete="off"
            spellcheck={false}
            placeholder="phx_…"
            value={key}
            // biome-ignore lint/a11y/noAutofocus: the page asks for nothing else; typing can start at once
            autoFocus
            onInput={(e) => setKey(e.currentTarget.value)}
          />
        </label>
        {message && (
          <p class="notice error" role="alert">
            {message}
          </p>
        )}
        <button type="submit" disabled={trying}>
          {trying ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p class="muted">
        sluice prints a project's personal API key once, when it makes it: on the first{' '}
        <code>sluice start</code>, or with <code>npx sluice keys create</code>. The console keeps it in this
        tab until the tab is closed.
      </p>
    </main>
  )
}
