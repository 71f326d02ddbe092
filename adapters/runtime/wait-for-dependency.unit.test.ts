import { describe, expect, it } from 'vitest'
import { DependencyUnavailableError } from '../../ports/failures.ts'
import type { Logger } from '../../ports/logger.ts'
import { GaveUpWaitingError, InterruptedError, ordinal, waitForDependency } from './wait-for-dependency.ts'

/** A clock that moves only when the loop pauses, and the lines the loop logs. */
function harness() {
  let clock = 0
  const lines: { level: string; context: object; message: string }[] = []
  const record = (level: string) => (context: object, message: string) =>
    lines.push({ level, context, message })
  const logger: Logger = {
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
  }
  return {
    lines,
    logger,
    now: () => clock,
    pause: async (ms: number) => {
      clock += ms
    },
  }
}

const refused = () =>
  new DependencyUnavailableError('log', 'Kafka is unavailable', {
    cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:19092'), { code: 'ECONNREFUSED' }),
  })

describe('waiting for a server that is away', () => {
  it('says one line per try, pausing 1, 2, 4 … s, and goes on once the server answers', async () => {
    const h = harness()
    let tries = 0
    await waitForDependency({
      dependency: 'log',
      what: 'Kafka at 127.0.0.1:19092',
      attempt: async () => {
        if (++tries < 4) throw refused()
      },
      waitSeconds: 60,
      ...h,
    })
    expect(tries).toBe(4)
    expect(h.lines.map((l) => `${l.level} ${l.message}`)).toEqual([
      'warn waiting for Kafka at 127.0.0.1:19092 (connection refused; 1st try, next in 1 s)…',
      'warn waiting for Kafka at 127.0.0.1:19092 (connection refused; 2nd try, next in 2 s)…',
      'warn waiting for Kafka at 127.0.0.1:19092 (connection refused; 3rd try, next in 4 s)…',
    ])
    expect(h.now()).toBe(7000)
  })

  it('gives up when --wait has passed, with how long it waited and why', async () => {
    const h = harness()
    let tries = 0
    const waiting = waitForDependency({
      dependency: 'log',
      what: 'Kafka at 127.0.0.1:19092',
      attempt: async () => {
        tries++
        throw refused()
      },
      waitSeconds: 5,
      ...h,
    })
    await expect(waiting).rejects.toThrow(GaveUpWaitingError)
    await expect(waiting).rejects.toThrow(
      'Kafka at 127.0.0.1:19092 was still away after 5 s (connection refused)',
    )
    // tries at 0, 1, 3 and — the last pause cut to what is left — 5 s
    expect(tries).toBe(4)
    expect(h.now()).toBe(5000)
    expect(h.lines.map((l) => l.message.replace(/.*\((.*)\)…$/, '$1'))).toEqual([
      'connection refused; 1st try, next in 1 s',
      'connection refused; 2nd try, next in 2 s',
      'connection refused; 3rd try, next in 2 s',
    ])
  })

  it('tries once when told not to wait, and logs nothing', async () => {
    const h = harness()
    const waiting = waitForDependency({
      dependency: 'postgres',
      what: 'PostgreSQL at 127.0.0.1:5999/x',
      attempt: async () => {
        throw refused()
      },
      waitSeconds: 0,
      ...h,
    })
    await expect(waiting).rejects.toThrow('cannot reach PostgreSQL at 127.0.0.1:5999/x (connection refused)')
    expect(h.lines).toEqual([])
  })

  it('does not wait for a failure that waiting cannot change', async () => {
    const h = harness()
    const wrongPassword = Object.assign(new Error('password authentication failed'), { code: '28P01' })
    await expect(
      waitForDependency({
        dependency: 'postgres',
        what: 'PostgreSQL',
        attempt: async () => {
          throw wrongPassword
        },
        waitSeconds: 60,
        ...h,
      }),
    ).rejects.toBe(wrongPassword)
    expect(h.now()).toBe(0)
  })

  it('stops waiting on Ctrl-C', async () => {
    const h = harness()
    const interrupt = new AbortController()
    const waiting = waitForDependency({
      dependency: 'log',
      what: 'Kafka',
      attempt: async () => {
        interrupt.abort()
        throw refused()
      },
      waitSeconds: 60,
      signal: interrupt.signal,
      ...h,
    })
    await expect(waiting).rejects.toThrow(InterruptedError)
  })

  it('counts in English', () => {
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111].map(ordinal)).toEqual([
      '1st',
      '2nd',
      '3rd',
      '4th',
      '11th',
      '12th',
      '13th',
      '21st',
      '22nd',
      '101st',
      '111th',
    ])
  })
})
