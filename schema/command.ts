import { type Static, Type } from '@sinclair/typebox'

/**
 * What capture appends to `events_plugin_ingestion`: PostHog's capture message, so the command
 * log is readable by anything that reads PostHog's. `data` is the raw event re-serialised as a
 * JSON string; outer fields win over fields inside `data` when ingest rebuilds the event.
 * `timestamp` is the skew-corrected event time computed at capture (ISO 8601, UTC, ms).
 */
export const CaptureCommand = Type.Object({
  uuid: Type.String(),
  distinct_id: Type.String(),
  ip: Type.Union([Type.String(), Type.Null()]),
  site_url: Type.Optional(Type.String()),
  data: Type.String(),
  now: Type.String(),
  sent_at: Type.Optional(Type.String()),
  token: Type.String(),
  event: Type.Optional(Type.String()),
  timestamp: Type.Optional(Type.String()),
  historical_migration: Type.Optional(Type.Boolean()),
  /**
   * The project's `anonymize_ips` as capture applied it. The log is kept for ever, so capture
   * decides: when true, no client IP is in the command (`ip` null, no `$ip` in `data`). Recorded
   * either way so that a replay decides as the first ingestion did, whatever the setting is by
   * then. Absent when capture could not look the project up (Postgres away): ingest decides.
   */
  anonymize_ips: Type.Optional(Type.Boolean()),
  /**
   * Why capture could not use the event's time as sent (an unreadable `timestamp` or `sent_at`, a
   * time far in the future or out of range): ingest reports each as PostHog's
   * `ignored_invalid_timestamp` warning. Absent when there was nothing to say.
   */
  timestamp_warnings: Type.Optional(
    Type.Array(
      Type.Object({
        field: Type.Union([Type.Literal('timestamp'), Type.Literal('sent_at')]),
        value: Type.String(),
        reason: Type.String(),
      }),
    ),
  ),
})
export type CaptureCommand = Static<typeof CaptureCommand>

/** The raw event as an SDK sent it, after capture's decoding (inside `data`). */
export type RawEvent = {
  event: string
  distinct_id?: unknown
  properties?: Record<string, unknown>
  timestamp?: unknown
  offset?: unknown
  $set?: Record<string, unknown>
  $set_once?: Record<string, unknown>
  uuid?: string
  token?: string
  [key: string]: unknown
}
