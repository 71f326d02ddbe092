import { describe, expect, it } from 'vitest'
import type { IngestionStatus } from '../../commands/status/ingestion-status.ts'
import { formatStatus } from './status-command.ts'

const status = (overrides: Partial<IngestionStatus>): IngestionStatus => ({
  roles: ['capture', 'ingest', 'project', 'api'],
  backends: { log: 'embedded', postgres: 'PGlite', clickhouse: 'chDB' },
  consumers: [
    {
      group: 'split',
      topic: 'capture_requests',
      partition: 0,
      end_offset: 120,
      committed_offset: 20,
      lag: 100,
      failures: 0,
      failing_since: null,
      last_error: null,
      stuck: false,
    },
  ],
  dead_letters: { total: 0, not_replayed: 0, by_reason: [] },
  stuck: false,
  capture_saturated: false,
  ...overrides,
})

describe('sluice status, as printed', () => {
  it('says why the split lags while capture is saturated, and only then', () => {
    const saturated = formatStatus(status({ capture_saturated: true }), 'http://127.0.0.1:8000')
    expect(saturated).toMatch(/split\s+capture_requests\s+0\s+120\s+20\s+100\s+ok/)
    expect(saturated).toContain('Capture is saturated: the split gives way to it')
    for (const quiet of [false, null])
      expect(formatStatus(status({ capture_saturated: quiet }), null)).not.toContain('saturated')
  })
})
