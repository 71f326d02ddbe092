import { type Static, Type } from '@sinclair/typebox'

/**
 * What capture decided about a request it accepted, kept in the `capture` header of the request's
 * record on `capture_requests` (the record's value is the payload as sent). The split turns the
 * record into PostHog's capture messages on `events_plugin_ingestion` from this alone, so it always
 * gives the same messages: the same uuids, times and IP decision.
 */
export const CaptureRequestDecisions = Type.Object({
  token: Type.String(),
  /** The route, normalised (`/e`, `/batch`, `/engage`…): `/engage` payloads are people updates. */
  path: Type.String(),
  /** When capture received the request, ISO 8601. */
  now: Type.String(),
  /** The client's IP, or null when the project anonymizes IPs. */
  ip: Type.Union([Type.String(), Type.Null()]),
  /** The client's send time as sent (batch `sent_at` or the `_` query parameter), or null. */
  sent_at: Type.Union([Type.String(), Type.Null()]),
  /**
   * The uuid capture minted for the first event sent without one; the next ones count up from it
   * (mintedUuids in domain/capture/normalise.ts). Records written before 2026-12-02 list every minted uuid in `minted` instead.
   */
  minted_from: Type.Optional(
    Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' }),
  ),
  /** The uuids minted for the events sent without one, in their order (records before 2026-12-02). */
  minted: Type.Optional(Type.Array(Type.String())),
  /** The project's `anonymize_ips` as capture applied it; absent when the project could not be looked up. */
  anonymize_ips: Type.Optional(Type.Boolean()),
  historical_migration: Type.Optional(Type.Boolean()),
  site_url: Type.Optional(Type.String()),
})
export type CaptureRequestDecisions = Static<typeof CaptureRequestDecisions>
