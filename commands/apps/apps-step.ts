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
import type { PipelineEvent } from '../../domain/ingest/pipeline-event.ts'
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

interface TeamApp {
  version: AppVersion
  app: RunnableApp
  key: string
}

/** What became of an event in one app. */
type Attempt =
  | { kind: 'unchanged' }
  | { kind: 'changed'; event: PipelineEvent }
  | { kind: 'dropped' }
  | { kind: 'failed'; error: string; recorded?: RecordedAppFailure }

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
      const teams = new Map<number, TeamApp[]>()
      const held: AppVersion[] = []
      const runs: AppRunRecord['runs'] = []
      const failures: RecordedAppFailure[] = []
      const stopped = new Set<string>()
      const inARowInBatch = new Map<string, number>()
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

      /** What one app made of the event: run in the sandbox, or (replaying) the failure recorded then. */
      const attempt = async (
        entry: TeamApp,
        event: PipelineEvent,
        inputs: ReturnType<typeof sandboxInputsOf>,
        offset: number,
      ): Promise<Attempt> => {
        const recorded = source.recorded ? source.failureOf(offset, entry.version.appId) : undefined
        if (recorded) return { kind: 'failed', error: recorded.error, recorded }
        const eventJson = appEventJson(event, entry.version.teamId)
        const outcome = await entry.app.run({ eventJson, ...inputs })
        log(entry.version, event.uuid, outcome.logs)
        if (outcome.kind === 'dropped') return { kind: 'dropped' }
        if (outcome.kind === 'failed') return { kind: 'failed', error: outcome.error }
        if (outcome.eventJson === eventJson) return { kind: 'unchanged' }
        const returned = eventFromApp(event, outcome.eventJson)
        return returned.ok
          ? { kind: 'changed', event: returned.event }
          : { kind: 'failed', error: returned.reason }
      }

      /** The warnings of a failure; counts it, and disables the app at one too many. */
      const failed = (
        { version, key }: TeamApp,
        event: PipelineEvent,
        offset: number,
        failure: Extract<Attempt, { kind: 'failed' }>,
      ): Fact[] => {
        const error = storableText(failure.error)
        log(version, event.uuid, [{ level: 'error', message: `processEvent failed: ${error}` }])
        let disabledAfter: number | null = null
        if (source.recorded) {
          disabledAfter = failure.recorded?.disabledAfter ?? null
          if (!failure.recorded)
            deps.logger.warn(
              { appId: version.appId, version: version.version, offset, error },
              'an app failed in the replay where it had not failed before; the replay differs there',
            )
        } else {
          const inARow = (inARowInBatch.get(key) ?? failuresInARow.get(key) ?? 0) + 1
          inARowInBatch.set(key, inARow)
          if (inARow >= deps.disableAfterFailures) disabledAfter = inARow
        }
        failures.push({ offset, appId: version.appId, version: version.version, error, disabledAfter })
        const warnings = [appFailedWarning(event, version, error)]
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
        return warnings
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
          for (const entry of apps) {
            if (stopped.has(entry.key)) continue
            const started = performance.now()
            const result = await attempt(entry, event, inputs, offset)
            observations.push([entry.version, result.kind, (performance.now() - started) / 1000])
            if (result.kind === 'failed') {
              warnings.push(...failed(entry, event, offset, result))
              continue
            }
            if (!source.recorded) inARowInBatch.set(entry.key, 0)
            if (result.kind === 'dropped')
              return { kind: 'drop', warnings: [...warnings, droppedByAppWarning(event, entry.version)] }
            if (result.kind === 'changed') event = result.event
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
          for (const [key, inARow] of inARowInBatch) {
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
