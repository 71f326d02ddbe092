import { type AppVersionSource, currentAppVersions } from '../../commands/apps/app-versions.ts'
import { type AppMetrics, createAppsStep } from '../../commands/apps/apps-step.ts'
import { createCompiledApps } from '../../commands/apps/compiled-apps.ts'
import { createEnabledApps } from '../../commands/apps/enabled-apps.ts'
import type { Logger } from '../../ports/logger.ts'
import { postgresAppStore } from '../../projections/postgres/app-store.ts'
import type { Db } from '../postgres/connect.ts'
import { createQuickJsSandbox } from '../sandbox/quickjs-sandbox.ts'
import type { SluiceConfig } from './config.ts'

/**
 * User apps as one process runs them: the store, the sandbox with the installation's limits, the
 * compiled versions ingest shares across batches, and each project's enabled apps, which this
 * process's API and ingest tell when they change them.
 */
export function openApps(limits: SluiceConfig['apps'], db: Db) {
  const store = postgresAppStore(db)
  const sandbox = createQuickJsSandbox({
    memoryBytes: limits.memoryMb * 2 ** 20,
    timeoutMs: limits.timeoutMs,
  })
  const compiled = createCompiledApps(sandbox)
  const enabled = createEnabledApps(store)
  const changed = (teamId: number) => enabled.forget(teamId)
  const current = currentAppVersions(enabled)
  return {
    store,
    sandbox,
    changed,
    /** The versions ingest runs: each project's enabled apps now. */
    current,
    /** Ingest's apps step; `versions` replays recorded runs instead of the enabled apps. */
    ingestStep: (deps: { logger: Logger; metrics?: AppMetrics; versions?: AppVersionSource }) =>
      createAppsStep({
        versions: deps.versions ?? current,
        compiled,
        store,
        disableAfterFailures: limits.disableAfterFailures,
        logger: deps.logger,
        now: () => new Date(),
        metrics: deps.metrics,
        appsChanged: changed,
      }),
    close: () => compiled.disposeAll(),
  }
}
