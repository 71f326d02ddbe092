import { useEffect, useRef, useState } from 'preact/hooks'
import { type ApiError, asApiError } from '../api/client.ts'

export interface Polled<T> {
  data: T | undefined
  /** The last failure; cleared by the next success. */
  error: ApiError | undefined
  /** When data last arrived (ms since the epoch). */
  updatedAt: number | undefined
  /** Loads again now (after a change the page made). */
  refresh(): void
}

/**
 * Loads now and again every `intervalMs` (0: once; null: not at all, keeping what was loaded), one
 * request at a time, and not while the tab is hidden (it loads at once when the tab shows again). New
 * `deps` start afresh.
 */
export function usePoll<T>(
  load: () => Promise<T>,
  intervalMs: number | null,
  deps: readonly unknown[],
): Polled<T> {
  const [state, setState] = useState<Omit<Polled<T>, 'refresh'>>({
    data: undefined,
    error: undefined,
    updatedAt: undefined,
  })
  const [round, setRound] = useState(0)
  const loadRef = useRef(load)
  loadRef.current = load

  useEffect(() => {
    if (intervalMs === null) return
    let stopped = false
    let running = false
    let timer: number | undefined
    const run = async () => {
      timer = undefined
      if (stopped || running || document.hidden) return
      running = true
      try {
        const data = await loadRef.current()
        if (!stopped) setState({ data, error: undefined, updatedAt: Date.now() })
      } catch (error) {
        if (!stopped) setState((previous) => ({ ...previous, error: asApiError(error) }))
      }
      running = false
      if (!stopped && intervalMs !== null && intervalMs > 0) timer = window.setTimeout(run, intervalMs)
    }
    const onVisibility = () => {
      if (document.hidden || running) return
      window.clearTimeout(timer)
      void run()
    }
    void run()
    document.addEventListener('visibilitychange', onVisibility)
    return () => {
      stopped = true
      window.clearTimeout(timer)
      document.removeEventListener('visibilitychange', onVisibility)
    }
  }, [...deps, round, intervalMs])

  // a new subject (deps) shows nothing of the old one
  useEffect(() => () => setState({ data: undefined, error: undefined, updatedAt: undefined }), deps)

  return { ...state, refresh: () => setRound((n) => n + 1) }
}
