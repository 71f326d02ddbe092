import { type Static, Type } from '@sinclair/typebox'

/**
 * User apps: JavaScript that transforms a project's events in ingest, before person processing
 * (PostHog's `pluginsProcessEventStep`). What the apps API takes and returns, and what ingest
 * records of the apps it ran so that a replay runs the very same versions.
 */

/** An app's `config`: whatever JSON object its author wants handed to `processEvent` as `meta.config`. */
export const AppConfig = Type.Record(Type.String(), Type.Unknown())
export type AppConfig = Static<typeof AppConfig>

const AppName = Type.String({ minLength: 1, maxLength: 200 })
/** A source defining `processEvent(event, meta)`, as a PostHog plugin (`export function …`) or plainly. */
const AppSource = Type.String({ minLength: 1, maxLength: 256 * 1024 })
const AppOrder = Type.Integer({ minimum: -1_000_000, maximum: 1_000_000 })

export const CreateAppBody = Type.Object(
  {
    name: AppName,
    source: AppSource,
    config: Type.Optional(AppConfig),
    enabled: Type.Optional(Type.Boolean()),
    /** Apps run by `order`, then by id; the default puts a new app after the project's others. */
    order: Type.Optional(AppOrder),
  },
  { additionalProperties: false },
)
export type CreateAppBody = Static<typeof CreateAppBody>

export const UpdateAppBody = Type.Partial(CreateAppBody, { additionalProperties: false })
export type UpdateAppBody = Static<typeof UpdateAppBody>

/** An app as the API shows it, at its current version. */
export interface App {
  id: number
  teamId: number
  name: string
  source: string
  config: AppConfig
  enabled: boolean
  order: number
  /** Counts up whenever name, source or config change; each version is kept for replays. */
  version: number
  createdAt: string
  updatedAt: string
}

/** One version of an app: everything that decides what it does to an event. Never changed once stored. */
export interface AppVersion {
  appId: number
  teamId: number
  version: number
  name: string
  source: string
  config: AppConfig
}

export const appLogLevels = ['log', 'info', 'warn', 'error'] as const
export type AppLogLevel = (typeof appLogLevels)[number]

export interface AppLogEntry {
  appId: number
  teamId: number
  timestamp: string
  level: AppLogLevel
  message: string
  /** The event the app was running on; null for what sluice says of the app itself. */
  eventUuid: string | null
}

/** An app version as ingest names it in what it records. */
export interface AppVersionKey {
  appId: number
  version: number
}

/**
 * An app that failed on one event, as ingest recorded it: a replay does not run that app on that
 * event again (a time limit can run out on one machine and not on another) but repeats the failure,
 * and stops the app for the rest of the batch where ingest disabled it.
 */
export interface RecordedAppFailure extends AppVersionKey {
  offset: number
  error: string
  /** This failure was the one too many, the last of this many in a row: the app was disabled, and ran on no later event. */
  disabledAfter: number | null
}

/**
 * What ingest records, in the batch's transaction, of the apps it ran on one range of a command-log
 * partition: per project the enabled app versions in the order they ran, and every failure.
 * Configuration like the apps themselves: a replay reads it and never empties it.
 */
export interface AppRunRecord {
  groupId: string
  topic: string
  partition: number
  firstOffset: number
  nextOffset: number
  runs: { teamId: number; apps: AppVersionKey[] }[]
  failures: RecordedAppFailure[]
}
