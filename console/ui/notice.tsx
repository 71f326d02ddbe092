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

export function Notice(props: { children: ComponentChildren; kind?: 'ok' | 'warn' }) {
  return (
    <p class={`notice ${props.kind ?? 'ok'}`} role="status">
      {props.children}
    </p>
  )
}
