import { type Kysely, sql } from 'kysely'
import type { FlagEvaluationStore } from '../../ports/flags.ts'
import type { PostgresTables } from '../../schema/postgres/tables.ts'

/**
 * Flag evaluation's reads of the person and group projection ingest keeps (read only), and the
 * continuity overrides flag requests write. One indexed lookup per question.
 */
export function postgresFlagEvaluationStore(db: Kysely<PostgresTables>): FlagEvaluationStore {
  return {
    async groupTypes(teamId) {
      const rows = await db
        .selectFrom('group_type_mappings')
        .select(['group_type', 'group_type_index'])
        .where('team_id', '=', teamId)
        .execute()
      return new Map(rows.map((row) => [row.group_type_index, row.group_type]))
    },
    async personProperties(teamId, distinctId) {
      const row = await db
        .selectFrom('person_distinct_ids as d')
        .innerJoin('persons as p', 'p.uuid', 'd.person_uuid')
        .select('p.properties')
        .where('d.team_id', '=', teamId)
        .where('d.distinct_id', '=', distinctId)
        .executeTakeFirst()
      return row?.properties ?? null
    },
    async groupProperties(teamId, groups) {
      if (groups.length === 0) return []
      const rows = await db
        .selectFrom('groups')
        .select(['group_type_index', 'group_properties'])
        .where('team_id', '=', teamId)
        .where((eb) =>
          eb.or(
            groups.map((g) =>
              eb.and([eb('group_type_index', '=', g.groupTypeIndex), eb('group_key', '=', g.groupKey)]),
            ),
          ),
        )
        .execute()
      return rows.map((row) => ({ groupTypeIndex: row.group_type_index, properties: row.group_properties }))
    },
    async personDistinctIds(teamId, distinctIds) {
      if (distinctIds.length === 0) return []
      const rows = await db
        .selectFrom('person_distinct_ids as requested')
        .innerJoin('person_distinct_ids as linked', (join) =>
          join
            .onRef('linked.person_uuid', '=', 'requested.person_uuid')
            .onRef('linked.team_id', '=', 'requested.team_id'),
        )
        .select(['requested.distinct_id as of', 'linked.distinct_id as distinctId'])
        .where('requested.team_id', '=', teamId)
        .where('requested.distinct_id', 'in', distinctIds)
        .execute()
      return rows
    },
    async hashKeyOverrides(teamId, distinctIds) {
      if (distinctIds.length === 0) return []
      return db
        .selectFrom('feature_flag_hash_key_overrides')
        .select(['distinct_id as distinctId', 'feature_flag_key as flagKey', 'hash_key as hashKey'])
        .where('team_id', '=', teamId)
        .where('distinct_id', 'in', distinctIds)
        .execute()
    },
    async addHashKeyOverrides(teamId, overrides) {
      if (overrides.length === 0) return
      await sql`INSERT INTO feature_flag_hash_key_overrides (team_id, distinct_id, feature_flag_key, hash_key)
        SELECT ${teamId}, o.distinct_id, o.flag_key, o.hash_key
        FROM unnest(${overrides.map((o) => o.distinctId)}::text[], ${overrides.map((o) => o.flagKey)}::text[],
          ${overrides.map((o) => o.hashKey)}::text[]) AS o(distinct_id, flag_key, hash_key)
        ON CONFLICT DO NOTHING`.execute(db)
    },
  }
}
