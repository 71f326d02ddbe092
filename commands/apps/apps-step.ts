import {
  appDisabledWarning,
  appEventJson,
  appFailedWarning,
  droppedByAppWarning,
  eventFromApp,
  sandboxInputsOf,
  storableText,
} from '../../domain/apps/app-event.ts'
import { isUuid } from '../../domain/hash/uuid.ts'
import type { AppLogLine, AppStore } from '../../ports/apps.ts'
import type { LogBatch } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'
import type {
  AppLogEntry,
  AppRunRecord,
  AppVersion,
  AppVersionKey,
  RecordedAppFailure,
} from '../../schema/apps.ts'
import type { Fact } from '../../schema/facts.ts'
import type { PreparedEvent, StepResult } from '../ingest/event-steps.ts'
import type { AppVersionSource } from './app-versions.ts'
import type { CompiledApps, RunnableApp } from './compiled-apps.ts'

export type AppEventOutcome = 'unchanged' | 'changed' | 'dropped' | 'failed'

export interface AppMetrics {
  observeEvent(app: AppVersion, outcome: AppEventOutcome, seconds: number): void
}

export interface AppsStepDeps {
  versions: AppVersionSource
  compiled: CompiledApps
  store: AppStore
  /** Failed events in a row after which an app disables itself. */
  disableAfterFailures: number
  logger: Logger
  now: () => Date
  metrics?: AppMetrics
  /** Ingest disabled one of the project's apps. */
  appsChanged?(teamId: number): void
}

/** The apps step of one batch. */
export interface BatchApps {
  /** Runs the event's project's apps on it, in order; never throws for what an app does. */
  run(prepared: PreparedEvent): Promise<StepResult<PreparedEvent>>
  /** What to record with the batch's range in its transaction; null when no app ran. */
  record(range: Omit<AppRunRecord, 'runs' | 'failures'>): AppRunRecord | null
  /** The batch committed: its logs, metrics, failure counts and disabled apps take effect. */
  committed(): Promise<void>
  /** Lets go of the compiled apps the batch held, whatever became of it. */
  close(): void
}

export const noApps: BatchApps = {
  run: async (prepared) => ({ kind: 'ok', value: prepared }),
  record: () => null,
  committed: async () => {},
  close() {},
}

// A chatty app cannot fill the database: what it logs beyond this in one batch is counted, not kept.
const maxLogLinesPerBatch = 100

/**
 * Runs user apps in ingest, after the project is known and before person processing
 * (PostHog's pluginsProcessEventStep): each enabled app of the event's project, in order, gets the
 * event as the previous one left it, and may change it or drop it (a falsy return). An app that
 * fails — throws, runs out of time or memory, returns what is not an event — never loses the event:
 * it goes on as that app received it, with an `app_failed` ingestion warning and an error in the
 * app's log; `disableAfterFailures` failed events in a row disable the app (`app_disabled`).
 *
 * What ran is recorded with the batch (`record`), so `sluice replay` runs the same versions —
 * whatever was edited since — and repeats the failures instead of running them again (a time limit
 * may run out on one machine and not another). Logs, metrics, failure counts and disabling take
 * effect only once the batch committed: a batch that is tried again counts once.
 */
export function createAppsStep(deps: AppsStepDeps): { begin(batch: LogBatch): Promise<BatchApps> } {
  // failed events in a row per app version, as of the last committed batch
  const failuresInARow = new Map<string, number>()
  const keyOf = (version: AppVersionKey) => `${version.appId}:${version.version}`

  return {
    async begin(batch) {
      const source = await deps.versions.forBatch(batch)
      const teams = new Map<number, { version: AppVersion; app: RunnableApp; key: string }[]>()
      const held: AppVersion[] = []
      const runs: AppRunRecord['runs'] = []
      const failures: RecordedAppFailure[] = []
      const stopped = new Set<string>()
      const counts = new Map<string, number>()
      const disabled: AppVersion[] = []
      const logs: AppLogEntry[] = []
      const logLines = new Map<number, number>()
      const observations: [AppVersion, AppEventOutcome, number][] = []

      const appsOf = async (teamId: number) => {
        const versions = await source.ofTeam(teamId)
        const apps = []
        for (const version of versions) {
          held.push(version)
          apps.push({ version, app: await deps.compiled.acquire(version), key: keyOf(version) })
        }
        if (apps.length > 0)
          runs.push({ teamId, apps: versions.map(({ appId, version }) => ({ appId, version })) })
        teams.set(teamId, apps)
        return apps
      }
      const failedSoFar = (key: string) => counts.get(key) ?? failuresInARow.get(key) ?? 0
      const log = (version: AppVersion, eventUuid: string, lines: readonly AppLogLine[]) => {
        if (source.recorded) return
        for (const line of lines) {
          const kept = logLines.get(version.appId) ?? 0
          logLines.set(version.appId, kept + 1)
          if (kept < maxLogLinesPerBatch)
            logs.push({
              appId: version.appId,
              teamId: version.teamId,
              timestamp: deps.now().toISOString(),
              level: line.level,
              message: storableText(line.message),
              eventUuid,
            })
        }
      }

      return {
        async run(prepared) {
          const teamId = prepared.team.teamId
          const apps = teams.get(teamId) ?? (await appsOf(teamId))
          // an event without a valid uuid is dropped by the domain, as PostHog does before its apps
          if (apps.length === 0 || !isUuid(prepared.event.uuid)) return { kind: 'ok', value: prepared }
          const offset = prepared.message.offset
          // apps cannot change the uuid or the capture time: one clock and seed for all of them
          const inputs = sandboxInputsOf(prepared.event)
          const warnings: Fact[] = [...(prepared.warnings ?? [])]
          let event = prepared.event
          for (const { version, app, key } of apps) {
            if (stopped.has(key)) continue
            const eventJson = appEventJson(event, teamId)
            const started = performance.now()
            const recorded = source.recorded ? source.failureOf(offset, version.appId) : undefined
            const outcome = recorded ? undefined : await app.run({ eventJson, ...inputs })
            const seconds = (performance.now() - started) / 1000
            if (outcome) log(version, event.uuid, outcome.logs)
            let failure = recorded?.error
            if (outcome?.kind === 'failed') failure = outcome.error
            else if (outcome?.kind === 'dropped') {
              observations.push([version, 'dropped', seconds])
              if (!source.recorded) counts.set(key, 0)
              warnings.push(droppedByAppWarning(event, version))
              return { kind: 'drop', warnings }
            } else if (outcome?.kind === 'returned') {
              const returned = outcome.eventJson === eventJson ? null : eventFromApp(event, outcome.eventJson)
              if (returned === null || returned.ok) {
                if (returned) event = returned.event
                observations.push([version, returned ? 'changed' : 'unchanged', seconds])
                if (!source.recorded) counts.set(key, 0)
                continue
              }
              failure = returned.reason
            }
            const error = storableText(failure ?? 'unknown failure')
            observations.push([version, 'failed', seconds])
            warnings.push(appFailedWarning(event, version, error))
            log(version, event.uuid, [{ level: 'error', message: `processEvent failed: ${error}` }])
            let disabledAfter: number | null
            if (source.recorded) {
              disabledAfter = recorded?.disabledAfter ?? null
              if (!recorded)
                deps.logger.warn(
                  { appId: version.appId, version: version.version, offset, error },
                  'an app failed in the replay where it had not failed before; the replay differs there',
                )
            } else {
              const inARow = failedSoFar(key) + 1
              counts.set(key, inARow)
              disabledAfter = inARow >= deps.disableAfterFailures ? inARow : null
            }
            failures.push({ offset, appId: version.appId, version: version.version, error, disabledAfter })
            if (disabledAfter !== null) {
              stopped.add(key)
              disabled.push(version)
              warnings.push(appDisabledWarning(event, version, disabledAfter, error))
              log(version, event.uuid, [
                {
                  level: 'error',
                  message: `disabled after failing on ${disabledAfter} events in a row; enable it again once it is fixed`,
                },
              ])
            }
          }
          return {
            kind: 'ok',
            value: { ...prepared, event, warnings: warnings.length > 0 ? warnings : undefined },
          }
        },

        record(range) {
          if (source.recorded || runs.length === 0) return null
          return { ...range, runs, failures: failures.filter((f) => f.offset >= range.firstOffset) }
        },

        async committed() {
          for (const [version, outcome, seconds] of observations)
            deps.metrics?.observeEvent(version, outcome, seconds)
          if (source.recorded) return
          for (const [key, inARow] of counts) {
            if (inARow === 0) failuresInARow.delete(key)
            else failuresInARow.set(key, inARow)
          }
          for (const version of disabled) {
            const context = { appId: version.appId, teamId: version.teamId, version: version.version }
            try {
              if (await deps.store.disable(version)) {
                failuresInARow.delete(keyOf(version))
                deps.logger.warn(context, 'an app failed on too many events in a row and disabled itself')
              }
            } catch (error) {
              deps.logger.warn(
                { ...context, err: error },
                'an app could not be disabled; it will be on its next failure',
              )
            }
            deps.appsChanged?.(version.teamId)
          }
          for (const [appId, lines] of logLines) {
            const app = held.find((version) => version.appId === appId)
            if (lines > maxLogLinesPerBatch && app)
              logs.push({
                appId,
                teamId: app.teamId,
                timestamp: deps.now().toISOString(),
                level: 'warn',
                message: `${lines - maxLogLinesPerBatch} more lines of one batch were not kept`,
                eventUuid: null,
              })
          }
          if (logs.length > 0)
            await deps.store.addLogs(logs).catch((error: unknown) => {
              deps.logger.warn({ err: error, lines: logs.length }, "apps' log lines could not be written")
            })
        },

        close() {
          for (const version of held.splice(0)) deps.compiled.release(version)
        },
      }
    },
  }
}
