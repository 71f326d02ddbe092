import type { ComponentChildren, JSX } from 'preact'
import { useEffect, useState } from 'preact/hooks'

const changed = 'sluice:navigate'

/** Goes to another view without reloading the page (the back button comes back). */
export function navigate(href: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', href)
  else history.pushState(null, '', href)
  window.dispatchEvent(new Event(changed))
}

/** The page's path and query, following links, the back and forward buttons. */
export function useLocation(): { pathname: string; search: string } {
  const read = () => ({ pathname: location.pathname, search: location.search })
  const [current, setCurrent] = useState(read)
  useEffect(() => {
    const update = () => setCurrent(read())
    window.addEventListener('popstate', update)
    window.addEventListener(changed, update)
    return () => {
      window.removeEventListener('popstate', update)
      window.removeEventListener(changed, update)
    }
  }, [])
  return current
}

/** A real link (opens in a new tab, copies, works from the keyboard) that changes view in place. */
export function Link(
  props: { href: string; children: ComponentChildren } & JSX.HTMLAttributes<HTMLAnchorElement>,
) {
  const { href, children, ...rest } = props
  const follow = (event: JSX.TargetedMouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
    event.preventDefault()
    navigate(href)
  }
  return (
    <a {...rest} href={href} onClick={follow}>
      {children}
    </a>
  )
}
