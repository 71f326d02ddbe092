import { describe, expect, it } from 'vitest'
import { formatLogLine } from './log-lines.ts'

const time = new Date(2026, 11, 1, 9, 5, 7, 42).getTime()
const plain = { colors: false, stacks: false }

describe('log lines on a terminal', () => {
  it('shows time, level, message and the record own fields, not pino bookkeeping', () => {
    const line = formatLogLine(
      {
        level: 40,
        time,
        pid: 123,
        hostname: 'box',
        msg: 'answering 503 until it passes',
        code: 'log_unavailable',
        partition: 2,
      },
      plain,
    )
    expect(line).toBe('09:05:07.042 WARN  answering 503 until it passes  code=log_unavailable partition=2\n')
  })

  it('does not repeat after the message what it already says', () => {
    const line = formatLogLine(
      {
        level: 40,
        time,
        msg: 'waiting for Kafka at 127.0.0.1:19092 (connection refused; 3rd try, next in 4 s)…',
        service: 'Kafka at 127.0.0.1:19092',
        reason: 'connection refused',
        attempt: 3,
      },
      plain,
    )
    expect(line).toBe(
      '09:05:07.042 WARN  waiting for Kafka at 127.0.0.1:19092 (connection refused; 3rd try, next in 4 s)…  attempt=3\n',
    )
  })

  it('shows an error as its message, and its stack only when asked for', () => {
    const record = {
      level: 50,
      time,
      msg: 'ingest stopped',
      err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at f (file.ts:1:2)' },
    }
    expect(formatLogLine(record, plain)).toBe('09:05:07.042 ERROR ingest stopped  error=boom\n')
    expect(formatLogLine(record, { colors: false, stacks: true })).toBe(
      '09:05:07.042 ERROR ingest stopped  error=boom\n    Error: boom\n    at f (file.ts:1:2)\n',
    )
  })

  it('quotes texts with spaces, writes objects as JSON and shortens what is long', () => {
    const line = formatLogLine(
      { level: 30, time, msg: 'm', reason: 'no answer in time', topics: ['a', 'b'], long: 'x'.repeat(300) },
      plain,
    )
    expect(line).toContain('reason="no answer in time" topics=["a","b"] long=')
    expect(line).toContain(`${'x'.repeat(199)}…`)
    expect(line).not.toContain('x'.repeat(200))
  })

  it('colours the level and dims the fields only when asked to', () => {
    const line = formatLogLine({ level: 50, time, msg: 'm', code: 'c' }, { colors: true, stacks: false })
    expect(line).toBe('09:05:07.042 \u001b[31mERROR\u001b[0m m  \u001b[2mcode=c\u001b[0m\n')
  })
})
