import { useState } from 'preact/hooks'
import { type Api, type ApiError, asApiError } from '../api/client.ts'
import { navigate } from '../navigation.tsx'
import { ErrorNotice } from './notice.tsx'

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
