import { projectorGroupId } from '../../projections/clickhouse/projector.ts'
import { verifyProjections } from '../../projections/verify/verify-projections.ts'
import { factTopics } from '../../schema/topics.ts'
import type { SluiceConfig } from '../runtime/config.ts'
import { createLogger } from '../runtime/logger.ts'
import { withBackends } from '../runtime/open-backends.ts'

/** `sluice verify`: exit 0 only when ClickHouse (deduplicated) agrees with Postgres. */
export async function runVerify(config: SluiceConfig, json: boolean): Promise<void> {
  const needs = { log: true, clickhouse: true } as const
  const options = { command: 'sluice verify', logger: createLogger(config) }
  const { report, unprojected, unpublished } = await withBackends(config, needs, options, async (opened) => {
    const { db, clickhouse, log } = opened
    const report = await verifyProjections(db, clickhouse)
    let unprojected = 0
    for (const topic of factTopics) {
      const ends = await log.endOffsets(topic).catch(() => new Map<number, number>())
      const committed = await log
        .committedOffsets(projectorGroupId, topic)
        .catch(() => new Map<number, number>())
      for (const [partition, end] of ends) unprojected += end - (committed.get(partition) ?? 0)
    }
    const outbox = await db
      .selectFrom('fact_outbox')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst()
    return { report, unprojected, unpublished: Number(outbox?.n ?? 0) }
  })
  const pending = { unprojected_facts: unprojected, unpublished_outbox_batches: unpublished }
  if (json) {
    console.log(JSON.stringify({ agree: report.differences.length === 0, ...report, ...pending }))
  } else {
    console.log(
      `Postgres holds ${report.persons} persons, ${report.distinctIds} distinct ids, ${report.groups} groups.`,
    )
    if (report.differences.length === 0) console.log('ClickHouse agrees with Postgres.')
    else {
      console.log(`ClickHouse differs from Postgres in ${report.differences.length} place(s):`)
      for (const d of report.differences.slice(0, 50)) {
        console.log(`  ${d.kind} ${d.key}: ${d.problem}`)
        if (d.postgres !== undefined) console.log(`    postgres:   ${JSON.stringify(d.postgres)}`)
        if (d.clickhouse !== undefined) console.log(`    clickhouse: ${JSON.stringify(d.clickhouse)}`)
      }
      if (report.differences.length > 50)
        console.log(`  … and ${report.differences.length - 50} more (--json lists all)`)
    }
    if (unprojected > 0 || unpublished > 0) {
      console.log(
        `Not yet projected: ${unprojected} facts on the fact topics, ${unpublished} outbox batches; start sluice to let it catch up.`,
      )
    }
  }
  if (report.differences.length > 0) process.exitCode = 1
}
