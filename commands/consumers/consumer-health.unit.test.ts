import { describe, expect, it } from 'vitest'
import { DependencyUnavailableError } from '../../ports/failures.ts'
import type { LogBatch } from '../../ports/log.ts'
import { createConsumerHealth } from './consumer-health.ts'

const batch = (partition: number): LogBatch => ({
  topic: 'events_plugin_ingestion',
  partition,
  messages: [{ topic: 'events_plugin_ingestion', partition, offset: 7, timestamp: 0, key: null, value: '' }],
})

function recordingLogger() {
  const lines: { level: string; context: object; message: string }[] = []
  const at = (level: string) => (context: object, message: string) => lines.push({ level, context, message })
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } }
}

describe('consumer health', () => {
  it('shows a failing partition until a batch succeeds, and logs the streak at a bounded rate', async () => {
    let clock = Date.parse('2026-12-01T10:00:00.000Z')
    const { lines, logger } = recordingLogger()
    const counted: number[] = []
    const health = createConsumerHealth({
      logger,
      now: () => new Date(clock),
      onFailure: (_group, _topic, partition) => counted.push(partition),
      logEveryMs: 30_000,
    })
    let away = true
    const handler = health.watch('ingest', async () => {
      if (away) throw new DependencyUnavailableError('postgres', 'connect ECONNREFUSED 127.0.0.1:5432')
    })

    for (let attempt = 0; attempt < 10; attempt++) {
      await expect(handler(batch(1))).rejects.toThrow('ECONNREFUSED')
      clock += 5_000
    }
    expect(health.failing('ingest')).toBe(true)
    expect(health.failing('clickhouse-projector')).toBe(false)
    expect(counted).toEqual(Array(10).fill(1))
    const [state] = health.partitions()
    expect(state).toMatchObject({
      group: 'ingest',
      partition: 1,
      failures: 10,
      consecutiveFailures: 10,
      failingSince: '2026-12-01T10:00:00.000Z',
      lastError: { code: 'postgres_unavailable', message: 'connect ECONNREFUSED 127.0.0.1:5432' },
    })
    // 50 s of failures every 5 s: the first, then one line per 30 s — no stack trace for what is expected
    const errors = lines.filter((l) => l.level === 'error')
    expect(errors).toHaveLength(2)
    expect(errors[0]!.context).toMatchObject({ code: 'postgres_unavailable', offset: 7 })
    expect(errors[0]!.context).not.toHaveProperty('err')

    away = false
    await handler(batch(1))
    expect(health.failing('ingest')).toBe(false)
    expect(health.partitions()[0]).toMatchObject({ failures: 10, consecutiveFailures: 0, failingSince: null })
    expect(lines.at(-1)).toMatchObject({ level: 'warn', context: { attempts: 10 } })
  })

  it('keeps an unexpected error whole in the log, and its message out of the status', async () => {
    const { lines, logger } = recordingLogger()
    const health = createConsumerHealth({ logger, now: () => new Date(0) })
    const handler = health.watch('ingest', async () => {
      throw new TypeError('an event value in the message')
    })
    await expect(handler(batch(0))).rejects.toThrow(TypeError)
    expect(health.partitions()[0]!.lastError).toEqual({
      code: 'TypeError',
      message: null,
      at: new Date(0).toISOString(),
    })
    expect(lines[0]!.context).toHaveProperty('err')
  })
})
