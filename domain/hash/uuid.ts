import { v5 } from 'uuid'

/** PostHog's namespace for person uuids. */
export const personUuidNamespace = '932979b4-65c3-4424-8467-0b66ec27bc22'

/**
 * The uuid of the person a distinct id creates (and of the personless "fake" person): UUIDv5 of
 * `<team>:<distinct id>`, as PostHog derives it. The name goes in as UTF-8 bytes (a lone surrogate
 * becomes U+FFFD, as TextEncoder makes it) — the uuid package's own string path would throw on one.
 */
export function personUuid(teamId: number, distinctId: string): string {
  return v5(Buffer.from(`${teamId}:${distinctId}`, 'utf8'), personUuidNamespace)
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Any version, as PostHog's ingestion checks it. */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && uuidPattern.test(value)
}
