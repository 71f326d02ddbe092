import { listDeadLetters } from '../../commands/dlq/dead-letters.ts'
import { type IngestionStatus, ingestionStatus } from '../../commands/status/ingestion-status.ts'
import { postgresDeadLetterReplays } from '../../projections/postgres/dead-letter-replays.ts'
import { ConsumerGroups } from '../../schema/topics.ts'
import { describeBackends } from '../runtime/backends.ts'
import type { SluiceConfig } from '../runtime/config.ts'
import { createLogger } from '../runtime/logger.ts'
import { withBackends } from '../runtime/open-backends.ts'
import { runningSluice } from './running-sluice.ts'

/**
 * `sluice status`: lag, failures and dead letters — asked of the sluice that holds the data dir
 * (which knows its consumers' last errors), or read from the backends when none runs. Exit 1 when a
 * partition is stuck.
 */
export async function runStatus(config: SluiceConfig, json: boolean): Promise<void> {
  const running = runningSluice(config, needs)
  const status = running
    ? await running.get<IngestionStatus>('/api/ingestion_status/')
    : await statusFromBackends(config)
  if (json) console.log(JSON.stringify(status))
  else console.log(formatStatus(status, running?.url ?? null))
  if (status.stuck) process.exitCode = 1
}

const needs = { log: true, clickhouse: false } as const

function statusFromBackends(config: SluiceConfig): Promise<IngestionStatus> {
  return withBackends(
    config,
    needs,
    { command: 'sluice status', logger: createLogger(config) },
    async ({ log, db }) =>
      ingestionStatus({
        log,
        groups: Object.values(ConsumerGroups),
        deadLetters: await listDeadLetters(log, postgresDeadLetterReplays(db)),
        roles: null,
        backends: describeBackends(config),
      }),
  )
}

export function formatStatus(status: IngestionStatus, url: string | null): string {
  const { log, postgres, clickhouse } = status.backends
  const lines = [
    url === null
      ? `sluice is not running on this data dir (backends: ${log} log, ${postgres}, ${clickhouse})`
      : `sluice at ${url} (roles: ${status.roles?.join(', ')}; backends: ${log} log, ${postgres}, ${clickhouse})`,
    '',
  ]
  const rows = [
    ['group', 'topic', 'partition', 'end', 'committed', 'lag', 'state'],
    ...status.consumers.map((c) => [
      c.group,
      c.topic,
      String(c.partition ?? '?'),
      String(c.end_offset ?? '?'),
      String(c.committed_offset ?? '?'),
      String(c.lag ?? '?'),
      c.stuck
        ? `STUCK since ${c.failing_since}: ${c.last_error?.code}${c.last_error?.message ? ` (${c.last_error.message})` : ''}`
        : c.last_error
          ? `ok (last error ${c.last_error.code} at ${c.last_error.at})`
          : 'ok',
    ]),
  ]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  for (const row of rows)
    lines.push(
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
  lines.push('')
  const { total, not_replayed, by_reason } = status.dead_letters
  lines.push(`dead letters: ${total} (${not_replayed} not replayed)`)
  for (const reason of by_reason)
    lines.push(`  ${reason.step} ${reason.code}: ${reason.count} (${reason.not_replayed} not replayed)`)
  if (total > 0) lines.push('  `sluice dlq list` shows each; `sluice dlq replay` sends them through again.')
  if (status.stuck) lines.push('', 'A partition is stuck: it retries until what it waits for is back.')
  if (status.capture_saturated)
    lines.push(
      '',
      'Capture is saturated: the split gives way to it, for at most SLUICE_CAPTURE_PRIORITY_SECONDS (10 by default) of lag.',
    )
  return lines.join('\n')
}
