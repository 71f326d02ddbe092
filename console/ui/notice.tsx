import type { ComponentChildren } from 'preact'
import type { ApiError } from '../api/client.ts'

/** What went wrong, in sluice's words, with its stable code for searching the README. */
export function ErrorNotice(props: { error: ApiError | undefined; what?: string }) {
  if (props.error === undefined) return null
  return (
    <p class="notice error" role="alert">
      {props.what ? `${props.what}: ` : ''}
      {props.error.detail} <code>{props.error.code}</code>
    </p>
  )
}

/** Good news: something done, or all well. */
export function Notice(props: { children: ComponentChildren }) {
  return (
    <p class="notice ok" role="status">
      {props.children}
    </p>
  )
}
