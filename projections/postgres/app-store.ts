import { type Kysely, type Selectable, sql } from 'kysely'
import { type AppStore, maxLogsPerApp } from '../../ports/apps.ts'
import type { App, AppVersion } from '../../schema/apps.ts'
import type { PostgresTables } from '../../schema/postgres/tables.ts'

/**
 * Apps in Postgres: `apps` holds what changes without changing what an app does (enabled, order,
 * deleted) and points at the current row of `app_versions`, which is written once per version and
 * never changed, so a replay finds every version that ever ran.
 */
export function postgresAppStore(db: Kysely<PostgresTables>): AppStore {
  const current = (teamId: number) =>
    db
      .selectFrom('apps')
      .innerJoin('app_versions', (join) =>
        join.onRef('app_versions.app_id', '=', 'apps.id').onRef('app_versions.version', '=', 'apps.version'),
      )
      .select([
        'apps.id',
        'apps.team_id',
        'apps.version',
        'apps.enabled',
        'apps.run_order',
        'apps.created_at',
        'apps.updated_at',
        'app_versions.name',
        'app_versions.source',
        'app_versions.config',
      ])
      .where('apps.team_id', '=', teamId)
      .where('apps.deleted', '=', false)
      .orderBy('apps.run_order')
      .orderBy('apps.id')

  return {
    async list(teamId) {
      return (await current(teamId).execute()).map(toApp)
    },
    async get(teamId, id) {
      const row = await current(teamId).where('apps.id', '=', id).executeTakeFirst()
      return row && toApp(row)
    },
    async create(teamId, app) {
      const id = await db.transaction().execute(async (tx) => {
        const order =
          app.order ??
          Number(
            (
              await tx
                .selectFrom('apps')
                .select(sql<number>`coalesce(max(run_order) + 1, 0)`.as('next'))
                .where('team_id', '=', teamId)
                .where('deleted', '=', false)
                .executeTakeFirstOrThrow()
            ).next,
          )
        const { id } = await tx
          .insertInto('apps')
          .values({ team_id: teamId, enabled: app.enabled, run_order: order })
          .returning('id')
          .executeTakeFirstOrThrow()
        await tx
          .insertInto('app_versions')
          .values({
            app_id: id,
            version: 1,
            name: app.name,
            source: app.source,
            config: JSON.stringify(app.config),
          })
          .execute()
        return id
      })
      const created = await this.get(teamId, id)
      if (!created) throw new Error(`app ${id} was created but cannot be read back`)
      return created
    },
    async update(teamId, id, changes) {
      const found = await db.transaction().execute(async (tx) => {
        const app = await tx
          .selectFrom('apps')
          .innerJoin('app_versions', (join) =>
            join
              .onRef('app_versions.app_id', '=', 'apps.id')
              .onRef('app_versions.version', '=', 'apps.version'),
          )
          .select(['apps.version', 'app_versions.name', 'app_versions.source', 'app_versions.config'])
          .where('apps.id', '=', id)
          .where('apps.team_id', '=', teamId)
          .where('apps.deleted', '=', false)
          .forUpdate('apps')
          .executeTakeFirst()
        if (!app) return false
        const next = {
          name: changes.name ?? app.name,
          source: changes.source ?? app.source,
          config: changes.config ?? app.config,
        }
        const newVersion =
          next.name !== app.name ||
          next.source !== app.source ||
          canonical(next.config) !== canonical(app.config)
        const version = newVersion ? app.version + 1 : app.version
        if (newVersion)
          await tx
            .insertInto('app_versions')
            .values({
              app_id: id,
              version,
              name: next.name,
              source: next.source,
              config: JSON.stringify(next.config),
            })
            .execute()
        await tx
          .updateTable('apps')
          .set({
            version,
            ...(changes.enabled !== undefined && { enabled: changes.enabled }),
            ...(changes.order !== undefined && { run_order: changes.order }),
            updated_at: sql<string>`now()`,
          })
          .where('id', '=', id)
          .execute()
        return true
      })
      return found ? this.get(teamId, id) : undefined
    },
    async delete(teamId, id) {
      const result = await db
        .updateTable('apps')
        .set({ deleted: true, enabled: false, updated_at: sql<string>`now()` })
        .where('id', '=', id)
        .where('team_id', '=', teamId)
        .where('deleted', '=', false)
        .executeTakeFirst()
      return result.numUpdatedRows > 0n
    },
    async enabledVersions(teamId) {
      const rows = await current(teamId).where('apps.enabled', '=', true).execute()
      return rows.map((row) => ({
        appId: row.id,
        teamId: row.team_id,
        version: row.version,
        name: row.name,
        source: row.source,
        config: row.config,
      }))
    },
    async versions(keys) {
      if (keys.length === 0) return []
      const rows = await db
        .selectFrom('app_versions')
        .innerJoin('apps', 'apps.id', 'app_versions.app_id')
        .select([
          'app_versions.app_id',
          'apps.team_id',
          'app_versions.version',
          'app_versions.name',
          'app_versions.source',
          'app_versions.config',
        ])
        .where((eb) =>
          eb.or(
            keys.map((key) =>
              eb.and([
                eb('app_versions.app_id', '=', key.appId),
                eb('app_versions.version', '=', key.version),
              ]),
            ),
          ),
        )
        .execute()
      return rows.map(
        (row): AppVersion => ({
          appId: row.app_id,
          teamId: row.team_id,
          version: row.version,
          name: row.name,
          source: row.source,
          config: row.config,
        }),
      )
    },
    async disable(key) {
      const result = await db
        .updateTable('apps')
        .set({ enabled: false, updated_at: sql<string>`now()` })
        .where('id', '=', key.appId)
        .where('version', '=', key.version)
        .where('enabled', '=', true)
        .executeTakeFirst()
      return result.numUpdatedRows > 0n
    },
    async addLogs(entries) {
      if (entries.length === 0) return
      await db.transaction().execute(async (tx) => {
        await tx
          .insertInto('app_logs')
          .values(
            entries.map((entry) => ({
              app_id: entry.appId,
              team_id: entry.teamId,
              timestamp: entry.timestamp,
              level: entry.level,
              message: entry.message,
              event_uuid: entry.eventUuid,
            })),
          )
          .execute()
        for (const appId of new Set(entries.map((entry) => entry.appId)))
          await sql`DELETE FROM app_logs WHERE app_id = ${appId} AND id <= (
            SELECT id FROM app_logs WHERE app_id = ${appId} ORDER BY id DESC OFFSET ${maxLogsPerApp} LIMIT 1)`.execute(
            tx,
          )
      })
    },
    async logs(teamId, appId, limit) {
      const rows = await db
        .selectFrom('app_logs')
        .selectAll()
        .where('team_id', '=', teamId)
        .where('app_id', '=', appId)
        .orderBy('id', 'desc')
        .limit(limit)
        .execute()
      return rows.map((row) => ({
        appId: row.app_id,
        teamId: row.team_id,
        timestamp: row.timestamp.toISOString(),
        level: row.level,
        message: row.message,
        eventUuid: row.event_uuid,
      }))
    },
    async recordedRuns(groupId) {
      const rows = await db
        .selectFrom('app_runs')
        .selectAll()
        .where('group_id', '=', groupId)
        .orderBy('seq')
        .execute()
      return rows.map((row) => ({
        groupId: row.group_id,
        topic: row.topic,
        partition: row.partition,
        firstOffset: row.first_offset,
        nextOffset: row.next_offset,
        runs: row.runs,
        failures: row.failures,
      }))
    },
  }
}

type CurrentRow = Pick<
  Selectable<PostgresTables['apps']>,
  'id' | 'team_id' | 'version' | 'enabled' | 'run_order' | 'created_at' | 'updated_at'
> &
  Pick<Selectable<PostgresTables['app_versions']>, 'name' | 'source' | 'config'>

function toApp(row: CurrentRow): App {
  return {
    id: row.id,
    teamId: row.team_id,
    name: row.name,
    source: row.source,
    config: row.config,
    enabled: row.enabled,
    order: row.run_order,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  }
}

/** JSON with object keys sorted: jsonb hands keys back in an order of its own. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item !== null && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item,
  )
}
