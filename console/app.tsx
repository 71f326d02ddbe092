import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { type Api, type ApiError, asApiError, createApi } from './api/client.ts'
import type { Project } from './api/types.ts'
import { Link, useLocation } from './navigation.tsx'
import { hrefs, type Route, routeOf, type Section, sectionOf } from './router.ts'
import { forgetKey, projectOfKey, refusalMessage, storedKey } from './session.ts'
import { AppEditor, Apps } from './views/apps.tsx'
import { FlagEditor, Flags } from './views/flags.tsx'
import { Ingestion } from './views/ingestion.tsx'
import { LiveEvents } from './views/live-events.tsx'
import { Person } from './views/person.tsx'
import { Persons } from './views/persons.tsx'
import { SignIn } from './views/sign-in.tsx'

type Session =
  | { state: 'checking' }
  | { state: 'signed-out'; message?: string }
  | { state: 'signed-in'; key: string; project: Project }

/** The console: sign-in until a key opens a project, then the view the URL names. */
export function App() {
  const [session, setSession] = useState<Session>(() =>
    storedKey() === null ? { state: 'signed-out' } : { state: 'checking' },
  )
  useEffect(() => {
    const key = storedKey()
    if (key === null) return
    projectOfKey(key).then(
      (project) => setSession({ state: 'signed-in', key, project }),
      (error: unknown) => {
        const refusal = asApiError(error)
        if (refusal.status === 401) forgetKey()
        setSession({ state: 'signed-out', message: refusalMessage(refusal) })
      },
    )
  }, [])
  const signOut = useCallback((message?: string) => {
    forgetKey()
    setSession({ state: 'signed-out', message })
  }, [])

  if (session.state === 'checking') return <p class="muted loading">Opening the console…</p>
  if (session.state === 'signed-out')
    return (
      <SignIn
        message={session.message}
        onSignedIn={(key, project) => setSession({ state: 'signed-in', key, project })}
      />
    )
  return <Console apiKey={session.key} project={session.project} signOut={signOut} />
}

const sections: { section: Section; label: string; href: string }[] = [
  { section: 'events', label: 'Live events', href: hrefs.events() },
  { section: 'persons', label: 'Persons', href: hrefs.persons() },
  { section: 'ingestion', label: 'Ingestion', href: hrefs.ingestion() },
  { section: 'flags', label: 'Flags', href: hrefs.flags() },
  { section: 'apps', label: 'Apps', href: hrefs.apps() },
]

function Console(props: { apiKey: string; project: Project; signOut(message?: string): void }) {
  const { signOut } = props
  const location = useLocation()
  const route = routeOf(location.pathname, location.search)
  const current = sectionOf(route)
  const api = useMemo(
    () => createApi(props.apiKey, (refusal: ApiError) => signOut(refusalMessage(refusal))),
    [props.apiKey, signOut],
  )

  // A new view moves the keyboard focus to its title, as a page load would; not on the first view.
  const shownPath = useRef(location.pathname)
  useEffect(() => {
    document.title = `${titleOf(route)} · sluice`
    if (shownPath.current === location.pathname) return
    shownPath.current = location.pathname
    document.querySelector<HTMLElement>('#view-title')?.focus()
  })

  return (
    <>
      <a class="skip" href="#content">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">
          sluice <span class="project">{props.project.name}</span>
        </span>
        <nav aria-label="Views">
          {sections.map((s) => (
            <Link key={s.section} href={s.href} aria-current={s.section === current ? 'page' : undefined}>
              {s.label}
            </Link>
          ))}
        </nav>
        <button type="button" class="secondary sign-out" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      <main id="content">
        <View route={route} api={api} project={props.project} />
      </main>
    </>
  )
}

function View(props: { route: Route; api: Api; project: Project }) {
  const { route, api, project } = props
  switch (route.view) {
    case 'events':
      return <LiveEvents api={api} project={project} event={route.event} distinctId={route.distinctId} />
    case 'persons':
      return <Persons api={api} project={project} search={route.search} />
    case 'person':
      return <Person key={route.uuid} api={api} project={project} uuid={route.uuid} />
    case 'ingestion':
      return <Ingestion api={api} project={project} />
    case 'flags':
      return <Flags api={api} project={project} />
    case 'flag':
      return <FlagEditor key={route.id} api={api} project={project} id={route.id} />
    case 'apps':
      return <Apps api={api} project={project} />
    case 'app':
      return <AppEditor key={route.id} api={api} project={project} id={route.id} />
    case 'unknown':
      return (
        <section aria-labelledby="view-title">
          <h1 id="view-title" tabIndex={-1}>
            No such view
          </h1>
          <p>
            The console has no page at <code>{route.path}</code>.{' '}
            <Link href={hrefs.events()}>Live events</Link> shows what arrives.
          </p>
        </section>
      )
  }
}

function titleOf(route: Route): string {
  switch (route.view) {
    case 'events':
      return 'Live events'
    case 'persons':
    case 'person':
      return 'Persons'
    case 'ingestion':
      return 'Ingestion'
    case 'flags':
    case 'flag':
      return 'Flags'
    case 'apps':
    case 'app':
      return 'Apps'
    case 'unknown':
      return 'No such view'
  }
}
