import { type Kysely, sql } from 'kysely'
import type { DeadLetterReplays } from '../../ports/dead-letter-replays.ts'
import type { PostgresTables } from '../../schema/postgres/tables.ts'

export function postgresDeadLetterReplays(db: Kysely<PostgresTables>): DeadLetterReplays {
  return {
    async replayed() {
      const rows = await db
        .selectFrom('dead_letter_replays')
        .select(['id', 'replayed_at', 'replays'])
        .execute()
      return new Map(rows.map((r) => [r.id, { at: r.replayed_at.toISOString(), replays: r.replays }]))
    },
    async markReplayed(ids, at) {
      if (ids.length === 0) return
      await db
        .insertInto('dead_letter_replays')
        .values(ids.map((id) => ({ id, replayed_at: at })))
        .onConflict((oc) =>
          oc.column('id').doUpdateSet({
            replayed_at: at,
            replays: sql<number>`dead_letter_replays.replays + 1`,
          }),
        )
        .execute()
    },
  }
}
