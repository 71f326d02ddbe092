import type { AppChanges, AppSandbox, AppStore } from '../../ports/apps.ts'
import type { App, CreateAppBody, UpdateAppBody } from '../../schema/apps.ts'

/**
 * Installing and changing a project's apps through the API. A source is compiled in the sandbox
 * before anything is stored, so an app that does not compile, or defines no `processEvent`, is
 * refused (AppSourceError) instead of failing on every event; `changed` tells this process's ingest
 * at once.
 */
export interface ManageAppsDeps {
  store: AppStore
  sandbox: AppSandbox
  changed(teamId: number): void
}

export async function createApp(deps: ManageAppsDeps, teamId: number, body: CreateAppBody): Promise<App> {
  const config = body.config ?? {}
  await checkSource(deps, teamId, body.source, config)
  const app = await deps.store.create(teamId, {
    name: body.name,
    source: body.source,
    config,
    enabled: body.enabled ?? true,
    order: body.order,
  })
  deps.changed(teamId)
  return app
}

/** undefined when the project has no such app. */
export async function updateApp(
  deps: ManageAppsDeps,
  teamId: number,
  id: number,
  body: UpdateAppBody,
): Promise<App | undefined> {
  if (body.source !== undefined || body.config !== undefined) {
    const app = await deps.store.get(teamId, id)
    if (!app) return undefined
    await checkSource(deps, teamId, body.source ?? app.source, body.config ?? app.config)
  }
  const changes: AppChanges = {
    name: body.name,
    source: body.source,
    config: body.config,
    enabled: body.enabled,
    order: body.order,
  }
  const updated = await deps.store.update(teamId, id, changes)
  if (updated) deps.changed(teamId)
  return updated
}

export async function deleteApp(deps: ManageAppsDeps, teamId: number, id: number): Promise<boolean> {
  const deleted = await deps.store.delete(teamId, id)
  if (deleted) deps.changed(teamId)
  return deleted
}

/** Compiles the source once, as ingest will; throws AppSourceError with the reason when it cannot. */
async function checkSource(
  deps: ManageAppsDeps,
  teamId: number,
  source: string,
  config: App['config'],
): Promise<void> {
  const compiled = await deps.sandbox.compile({ source, config, teamId })
  compiled.dispose()
}
