import { createHash } from 'node:crypto'
import type { AppVersion } from '../../schema/apps.ts'
import type { Fact } from '../../schema/facts.ts'
import { isObject, maxEventNameLength, type PipelineEvent, withoutNul } from '../ingest/pipeline-event.ts'
import { warningFact } from '../persons/decide-persons.ts'

/**
 * What an app receives and what comes back of it: the event in PostHog's plugin shape (`PluginEvent`:
 * `$set` and `$set_once` inside `properties`, as ingestion has merged them), and the event an app
 * returned, checked and made ingestible. An app may change the event name, the distinct id and the
 * properties (`$set` included); uuid, times and ip are the command's and stay as they are.
 */
export function appEventJson(event: PipelineEvent, teamId: number): string {
  return JSON.stringify({
    uuid: event.uuid,
    event: event.event,
    distinct_id: event.distinctId,
    properties: event.properties,
    timestamp: event.timestamp,
    now: event.now,
    sent_at: event.sentAt,
    ip: event.ip,
    team_id: teamId,
  })
}

export type AppResult = { ok: true; event: PipelineEvent } | { ok: false; reason: string }

/** The event an app returned (as JSON), as ingestion goes on with it; `reason` says what is wrong with it. */
export function eventFromApp(before: PipelineEvent, json: string): AppResult {
  let returned: unknown
  try {
    returned = JSON.parse(json)
  } catch {
    return { ok: false, reason: 'processEvent returned something that is not JSON' }
  }
  // Postgres refuses NUL, as for commands (pipeline-event.ts)
  if (json.includes('\\u0000')) returned = withoutNul(returned)
  if (!isObject(returned))
    return { ok: false, reason: 'processEvent returned neither an event object nor a falsy value' }
  const { event, distinct_id: distinctId } = returned
  if (typeof event !== 'string' || event === '')
    return { ok: false, reason: 'the returned event has no name (`event` must be a non-empty string)' }
  if ((typeof distinctId !== 'string' && typeof distinctId !== 'number') || distinctId === '')
    return { ok: false, reason: 'the returned event has no `distinct_id`' }
  const properties = returned.properties ?? {}
  if (!isObject(properties)) return { ok: false, reason: 'the returned `properties` is not an object' }
  // PostHog merges top-level `$set`/`$set_once` into the properties after the apps ran; top level wins
  for (const key of ['$set', '$set_once'] as const) {
    const topLevel = returned[key]
    if (isObject(topLevel))
      properties[key] = { ...(isObject(properties[key]) ? properties[key] : {}), ...topLevel }
  }
  return {
    ok: true,
    event: {
      ...before,
      event: event.slice(0, maxEventNameLength),
      distinctId: String(distinctId),
      properties,
    },
  }
}

/**
 * What `Date` and `Math.random` read inside the sandbox for this event: its capture time, and a seed
 * derived from its uuid — the same on every run, so a replay gets the same results.
 */
export function sandboxInputsOf(event: PipelineEvent): {
  nowMs: number
  randomSeed: [number, number, number, number]
} {
  const digest = createHash('sha256').update(event.uuid).digest()
  return {
    nowMs: Date.parse(event.now),
    randomSeed: [
      digest.readUInt32BE(0),
      digest.readUInt32BE(4),
      digest.readUInt32BE(8),
      digest.readUInt32BE(12),
    ],
  }
}

/**
 * Text an app produced (an error, a log line) as Postgres can store it in text and jsonb: no NUL, no
 * half of a surrogate pair — either would make the database refuse the batch that records it.
 */
export function storableText(text: string): string {
  return text.replace(/\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
}

const appDetails = (app: AppVersion) => ({ appId: app.appId, appName: app.name, appVersion: app.version })

/** PostHog's warning for an event a transformation dropped. */
export function droppedByAppWarning(event: PipelineEvent, app: AppVersion): Fact {
  return warningFact(app.teamId, event, 'event_dropped_by_transformation', {
    eventUuid: event.uuid,
    event: event.event,
    ...appDetails(app),
  })
}

/** The app failed on this event, which went on as the app had received it. */
export function appFailedWarning(event: PipelineEvent, app: AppVersion, error: string): Fact {
  return warningFact(app.teamId, event, 'app_failed', { eventUuid: event.uuid, ...appDetails(app), error })
}

/** The app failed on too many events in a row and was disabled; it runs on nothing until enabled again. */
export function appDisabledWarning(
  event: PipelineEvent,
  app: AppVersion,
  consecutiveFailures: number,
  error: string,
): Fact {
  return warningFact(app.teamId, event, 'app_disabled', {
    eventUuid: event.uuid,
    ...appDetails(app),
    consecutiveFailures,
    error,
  })
}
