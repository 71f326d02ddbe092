import type { App, AppConfig, AppLogEntry, AppRunRecord, AppVersion, AppVersionKey } from '../schema/apps.ts'

/** Apps, their versions, their logs and what ingest ran of them. Authoritative in Postgres. */
export interface AppStore {
  /** The project's apps (deleted ones never), in the order they run. */
  list(teamId: number): Promise<App[]>
  get(teamId: number, id: number): Promise<App | undefined>
  create(teamId: number, app: NewApp): Promise<App>
  /** A change of name, source or config stores a new version; enabled and order change the app alone. */
  update(teamId: number, id: number, changes: AppChanges): Promise<App | undefined>
  /** Marks the app deleted (its versions stay, for replays); false when the project has no such app. */
  delete(teamId: number, id: number): Promise<boolean>
  /** The project's enabled apps at their current versions, in the order they run. */
  enabledVersions(teamId: number): Promise<AppVersion[]>
  /** The given versions, whatever became of their apps since. */
  versions(keys: readonly AppVersionKey[]): Promise<AppVersion[]>
  /** Disables the app if it is still enabled at that version; whether it did. */
  disable(key: AppVersionKey): Promise<boolean>
  /** Adds log lines; each app keeps only its newest `maxLogsPerApp`. */
  addLogs(entries: readonly AppLogEntry[]): Promise<void>
  /** The app's log, newest first. */
  logs(teamId: number, appId: number, limit: number): Promise<AppLogEntry[]>
  /** What ingest recorded of the apps it ran, in the order it recorded it. */
  recordedRuns(groupId: string): Promise<AppRunRecord[]>
}

export const maxLogsPerApp = 1000

export interface NewApp {
  name: string
  source: string
  config: AppConfig
  enabled: boolean
  /** Absent: after the project's other apps. */
  order?: number
}

export type AppChanges = Partial<NewApp>

/** Compiles app sources into something that runs events, isolated from the host and each other. */
export interface AppSandbox {
  /** Throws AppSourceError when the source does not compile or defines no `processEvent`. */
  compile(app: AppCode): Promise<CompiledApp>
}

export interface AppCode {
  source: string
  config: AppConfig
  teamId: number
}

/** One app version, compiled once and run on event after event. */
export interface CompiledApp {
  /** Never throws: whatever the app does is in the outcome. */
  run(input: AppInput): Promise<AppRunOutcome>
  /** Frees the sandbox; the app must not run again. */
  dispose(): void
}

export interface AppInput {
  /** The event as the app receives it, as JSON. */
  eventJson: string
  /** What `Date` reads inside the sandbox: the event's capture time, in ms since the epoch. */
  nowMs: number
  /** The seed of `Math.random` inside the sandbox: four 32-bit words. */
  randomSeed: readonly [number, number, number, number]
}

export type AppRunOutcome = (
  | { kind: 'returned'; eventJson: string }
  /** `processEvent` returned a falsy value. */
  | { kind: 'dropped' }
  | { kind: 'failed'; failure: AppFailureKind; error: string }
) & { logs: AppLogLine[] }

/**
 * What went wrong: the app threw (or its promise rejected), it ran out of its time or memory, it
 * returned something that is not JSON, or the sandbox itself broke (and was rebuilt).
 */
export type AppFailureKind = 'threw' | 'timeout' | 'memory' | 'invalid' | 'crashed'

export interface AppLogLine {
  level: AppLogEntry['level']
  message: string
}

export class AppSourceError extends Error {
  override readonly name = 'AppSourceError'
}
