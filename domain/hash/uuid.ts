import { sha1, toHex } from './sha1.ts'

/** PostHog's namespace for person uuids. */
export const personUuidNamespace = '932979b4-65c3-4424-8467-0b66ec27bc22'

const utf8 = new TextEncoder()
const namespaceBytesOf = new Map<string, Uint8Array>()

/** RFC 4122 version 5 (SHA-1, name-based) uuid. */
export function uuidV5(name: string, namespace: string): string {
  let namespaceBytes = namespaceBytesOf.get(namespace)
  if (namespaceBytes === undefined) {
    namespaceBytes = new Uint8Array(
      namespace
        .replace(/-/g, '')
        .match(/../g)!
        .map((h) => Number.parseInt(h, 16)),
    )
    namespaceBytesOf.set(namespace, namespaceBytes)
  }
  const nameBytes = utf8.encode(name)
  const input = new Uint8Array(namespaceBytes.length + nameBytes.length)
  input.set(namespaceBytes)
  input.set(nameBytes, namespaceBytes.length)
  const hash = sha1(input).slice(0, 16)
  hash[6] = (hash[6]! & 0x0f) | 0x50
  hash[8] = (hash[8]! & 0x3f) | 0x80
  const hex = toHex(hash)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** The uuid of the person a distinct id creates (and of the personless "fake" person). */
export function personUuid(teamId: number, distinctId: string): string {
  return uuidV5(`${teamId}:${distinctId}`, personUuidNamespace)
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Any version, as PostHog's ingestion checks it. */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && uuidPattern.test(value)
}
