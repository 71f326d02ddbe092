import { useEffect, useState } from 'preact/hooks'

const pad = (n: number) => String(n).padStart(2, '0')

/** A time in the reader's zone: the clock time for today, the date and time before; exact on hover. */
export function Time(props: { iso: string; seconds?: boolean }) {
  const date = new Date(props.iso)
  if (Number.isNaN(date.getTime())) return <span>{props.iso}</span>
  const clock = `${pad(date.getHours())}:${pad(date.getMinutes())}${props.seconds === false ? '' : `:${pad(date.getSeconds())}`}`
  const today = new Date().toDateString() === date.toDateString()
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`
  return (
    <time dateTime={props.iso} title={date.toString()}>
      {today ? clock : `${day} ${clock}`}
    </time>
  )
}

/** "updated 3 s ago", kept current. */
export function Ago(props: { at: number | undefined; prefix: string }) {
  const [now, setNow] = useState(Date.now())
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), 1000)
    return () => window.clearInterval(timer)
  }, [])
  if (props.at === undefined) return null
  const seconds = Math.max(0, Math.round((now - props.at) / 1000))
  return (
    <span class="muted">
      {props.prefix} {seconds < 2 ? 'just now' : `${seconds} s ago`}
    </span>
  )
}
