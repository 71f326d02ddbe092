import { isObject } from '../ingest/pipeline-event.ts'

export interface PropertyUpdates {
  set: Record<string, unknown>
  setOnce: Record<string, unknown>
  unset: string[]
}

/**
 * `$set`, `$set_once` and `$unset` (a list of keys — other entries than text are ignored, as PostHog
 * ignores them — or an object whose keys count) from event properties.
 */
export function propertyUpdatesOf(properties: Record<string, unknown>): PropertyUpdates {
  const unset = properties.$unset
  return {
    set: isObject(properties.$set) ? properties.$set : {},
    setOnce: isObject(properties.$set_once) ? properties.$set_once : {},
    unset: Array.isArray(unset)
      ? unset.filter((key): key is string => typeof key === 'string')
      : isObject(unset)
        ? Object.keys(unset)
        : [],
  }
}

export function hasUpdates(updates: PropertyUpdates): boolean {
  return (
    Object.keys(updates.set).length > 0 || Object.keys(updates.setOnce).length > 0 || updates.unset.length > 0
  )
}

/**
 * PostHog's rules (current ingestion), every change judged against the
 * properties as they were before the event: `$set_once` where the key is absent (or null, unless
 * the new value is null too), then `$set`, then `$unset` of keys that were there before — so an
 * unset wins over a set of a key the person had, while a key the same event sets for the first time
 * stays. Returns the new properties, or undefined when nothing changed.
 */
export function applyPropertyUpdates(
  properties: Record<string, unknown>,
  updates: PropertyUpdates,
): Record<string, unknown> | undefined {
  const next: Record<string, unknown> = { ...properties }
  let changed = false
  for (const key of Object.keys(updates.setOnce)) {
    const value = updates.setOnce[key]
    const absent = !Object.hasOwn(properties, key) || (properties[key] === null && value !== null)
    if (absent) {
      defineProperty(next, key, value)
      changed = true
    }
  }
  for (const key of Object.keys(updates.set)) {
    const value = updates.set[key]
    if (!Object.hasOwn(properties, key) || !sameValue(properties[key], value)) {
      defineProperty(next, key, value)
      changed = true
    }
  }
  for (const key of updates.unset) {
    if (Object.hasOwn(properties, key)) {
      delete next[key]
      changed = true
    }
  }
  return changed ? next : undefined
}

/** Assigns even `__proto__` as a plain key, so event properties can never reach a prototype. */
export function defineProperty(target: Record<string, unknown>, key: string, value: unknown): void {
  // plain assignment is far cheaper, and for any other key of a plain object it does the same
  if (key === '__proto__')
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  else target[key] = value
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  return JSON.stringify(a) === JSON.stringify(b)
}
