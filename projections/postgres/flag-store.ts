import { type Kysely, type Selectable, sql } from 'kysely'
import { type FlagChanges, FlagKeyTakenError, type FlagStore } from '../../ports/flags.ts'
import type { FeatureFlag } from '../../schema/flags.ts'
import type { PostgresTables } from '../../schema/postgres/tables.ts'

export function postgresFlagStore(db: Kysely<PostgresTables>): FlagStore {
  return {
    async list(teamId, options = {}) {
      let query = db.selectFrom('feature_flags').selectAll().where('team_id', '=', teamId)
      if (!options.includeDeleted) query = query.where('deleted', '=', false)
      return (await query.orderBy('id').execute()).map(toFlag)
    },
    async get(teamId, id) {
      const row = await db
        .selectFrom('feature_flags')
        .selectAll()
        .where('team_id', '=', teamId)
        .where('id', '=', id)
        .executeTakeFirst()
      return row && toFlag(row)
    },
    async create(teamId, flag) {
      const row = await keyChecked(
        async () => flag.key,
        () =>
          db
            .insertInto('feature_flags')
            .values({
              team_id: teamId,
              key: flag.key,
              name: flag.name,
              filters: JSON.stringify(flag.filters),
              active: flag.active,
              ensure_experience_continuity: flag.ensureExperienceContinuity,
            })
            .returningAll()
            .executeTakeFirstOrThrow(),
      )
      return toFlag(row)
    },
    async update(teamId, id, changes) {
      // Restoring a deleted flag can collide too, on the key it already has.
      const keyOf = async () => changes.key ?? (await this.get(teamId, id))?.key ?? ''
      const row = await keyChecked(keyOf, () =>
        db
          .updateTable('feature_flags')
          .set((eb) => ({
            ...columnsOf(changes),
            version: eb('version', '+', 1),
            updated_at: sql<string>`now()`,
          }))
          .where('team_id', '=', teamId)
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirst(),
      )
      return row && toFlag(row)
    },
  }
}

function columnsOf(changes: FlagChanges) {
  return {
    ...(changes.key !== undefined && { key: changes.key }),
    ...(changes.name !== undefined && { name: changes.name }),
    ...(changes.filters !== undefined && { filters: JSON.stringify(changes.filters) }),
    ...(changes.active !== undefined && { active: changes.active }),
    ...(changes.deleted !== undefined && { deleted: changes.deleted }),
    ...(changes.ensureExperienceContinuity !== undefined && {
      ensure_experience_continuity: changes.ensureExperienceContinuity,
    }),
  }
}

/** The live-key index refusing the write means another live flag has the key (SQLSTATE 23505). */
async function keyChecked<T>(keyOf: () => Promise<string>, write: () => Promise<T>): Promise<T> {
  try {
    return await write()
  } catch (error) {
    if ((error as { code?: unknown }).code === '23505') throw new FlagKeyTakenError(await keyOf())
    throw error
  }
}

function toFlag(row: Selectable<PostgresTables['feature_flags']>): FeatureFlag {
  return {
    id: row.id,
    teamId: row.team_id,
    key: row.key,
    name: row.name,
    filters: row.filters,
    active: row.active,
    deleted: row.deleted,
    ensureExperienceContinuity: row.ensure_experience_continuity,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  }
}
