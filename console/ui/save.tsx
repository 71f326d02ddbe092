import type { ComponentChildren } from 'preact'
import { useState } from 'preact/hooks'
import { type Api, type ApiError, asApiError } from '../api/client.ts'
import type { Page } from '../api/types.ts'
import { navigate } from '../navigation.tsx'
import { ErrorNotice } from './notice.tsx'
import { usePoll } from './poll.ts'

/**
 * An editor's record, read once from `collection` before its form shows (nothing to read for a new
 * one); `what` names it in the loading line and in what went wrong.
 */
export function Editing<T>(props: {
  api: Api
  collection: string
  id: number | 'new'
  what: string
  children: (existing: T | undefined) => ComponentChildren
}) {
  const { api, collection, id, what } = props
  const existing = usePoll(
    () => (id === 'new' ? Promise.resolve(undefined) : api.get<T>(`${collection}${id}/`)),
    0,
    [collection, id],
  )
  if (existing.error) return <ErrorNotice error={existing.error} what={`${what} ${id} could not be read`} />
  if (id !== 'new' && existing.data === undefined)
    return (
      <p class="muted">
        Loading {what.toLowerCase()} {id}…
      </p>
    )
  return <>{props.children(existing.data)}</>
}

/**
 * A collection's list, and a change made in place to one of its items (a switch): what stops the
 * change is kept for the view to show, and the list is read again either way.
 */
export function useListWithChanges<T extends { id: number }>(api: Api, collection: string) {
  const list = usePoll(() => api.get<Page<T>>(collection), 0, [collection])
  const [problem, setProblem] = useState<ApiError | undefined>(undefined)
  const change = async (item: T, body: Partial<T>) => {
    setProblem(undefined)
    try {
      await api.send('PATCH', `${collection}${item.id}/`, body)
    } catch (error) {
      setProblem(asApiError(error))
    }
    list.refresh()
  }
  return { list, problem, change }
}

/** What stopped a save: a problem the form found before sending, or the API's refusal. */
export type SaveProblem = string | ApiError | undefined

/**
 * An editor's save: creates (POST to `collection`) or changes (PATCH its item) what it edits, then
 * goes back to `backTo`; what stops it is kept for the form to show.
 */
export function useSave(api: Api, collection: string, id: number | 'new', backTo: string) {
  const [problem, setProblem] = useState<SaveProblem>(undefined)
  const [saving, setSaving] = useState(false)
  const save = async (body: unknown) => {
    setSaving(true)
    setProblem(undefined)
    try {
      if (id === 'new') await api.send('POST', collection, body)
      else await api.send('PATCH', `${collection}${id}/`, body)
      navigate(backTo)
    } catch (error) {
      setProblem(asApiError(error))
      setSaving(false)
    }
  }
  return { problem, setProblem, saving, save }
}

export function SaveProblemNotice(props: { problem: SaveProblem; what: string }) {
  if (typeof props.problem !== 'string') return <ErrorNotice error={props.problem} what={props.what} />
  return (
    <p class="notice error" role="alert">
      {props.problem}
    </p>
  )
}
