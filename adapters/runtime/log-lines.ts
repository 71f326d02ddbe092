/**
 * sluice's log records as a person reads them on a terminal: one line each — time, level, message,
 * then the record's own fields as key=value — and an error's stack only when asked for (debug).
 *
 * A small formatter of our own rather than pino-pretty: it is the one place that decides what a line
 * shows (pino's pid and hostname are left out, an error is its message), it writes synchronously in
 * the same process (pino-pretty runs as a transport in a worker thread, or pulls in a dozen
 * packages to run in-process), and it is a pure function a unit test can read.
 */
export interface LineOptions {
  colors: boolean
  /** Append an error's stack to its line (SLUICE_LOG_LEVEL=debug). */
  stacks: boolean
}

const levels: Record<number, { label: string; color: string }> = {
  10: { label: 'TRACE', color: '90' },
  20: { label: 'DEBUG', color: '90' },
  30: { label: 'INFO', color: '36' },
  40: { label: 'WARN', color: '33' },
  50: { label: 'ERROR', color: '31' },
  60: { label: 'FATAL', color: '31;1' },
}

/** What every record carries and a person does not need on each line. */
const left = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v', 'err'])

export function formatLogLine(record: Record<string, unknown>, options: LineOptions): string {
  const paint = (code: string, text: string) => (options.colors ? `\u001b[${code}m${text}\u001b[0m` : text)
  const level = levels[Number(record.level)] ?? { label: String(record.level), color: '0' }
  const message = String(record.msg ?? '')
  // a text the message already says is not repeated after it
  const fields = Object.entries(record)
    .filter(([key, value]) => !left.has(key) && value !== undefined)
    .filter(([, value]) => !(typeof value === 'string' && message.includes(value)))
    .map(([key, value]) => `${key}=${show(value)}`)
  const error = record.err as { message?: unknown; stack?: unknown } | undefined
  if (error !== undefined) fields.push(`error=${show(error.message ?? error)}`)
  let line = `${clock(record.time)} ${paint(level.color, level.label.padEnd(5))} ${message}`
  if (fields.length > 0) line += `  ${paint('2', fields.join(' '))}`
  if (options.stacks && typeof error?.stack === 'string') line += `\n${paint('2', indent(error.stack))}`
  return `${line}\n`
}

function clock(time: unknown): string {
  const date = new Date(typeof time === 'number' || typeof time === 'string' ? time : Date.now())
  const two = (n: number) => String(n).padStart(2, '0')
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`
}

function show(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  const short = text.length > 200 ? `${text.slice(0, 199)}…` : text
  return typeof value === 'string' && /[\s"=]/.test(short) ? JSON.stringify(short) : short
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((line) => `    ${line.trim()}`)
    .join('\n')
