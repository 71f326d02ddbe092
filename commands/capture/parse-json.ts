import { CaptureError } from './errors.ts'

/**
 * PostHog's capture parses with serde_json, which refuses documents nested deeper than 128; the
 * same limit here keeps pathological nesting away from everything downstream that recurses
 * (JSON.stringify, Postgres jsonb, property walkers).
 */
export const maxJsonDepth = 128

/** JSON.parse with a nesting limit, and lone UTF-16 surrogates replaced by U+FFFD. */
export function parseCaptureJson(text: string): unknown {
  let value: unknown
  try {
    // V8's JSON.parse is not recursive, so any depth parses; the limit is checked on the result.
    value = JSON.parse(text)
  } catch (error) {
    throw new CaptureError(
      'invalid_json',
      `The payload is not valid JSON: ${(error as Error).message.slice(0, 200)}`,
    )
  }
  if (nestedDeeperThan(value, maxJsonDepth)) {
    throw new CaptureError('invalid_json', `The payload is nested deeper than ${maxJsonDepth} levels.`)
  }
  // A `\ud800` escape can carry half a surrogate pair, which Postgres jsonb refuses; PostHog's
  // capture replaces them too. Raw text cannot hold one: it was decoded from UTF-8.
  return text.includes('\\u') && /\\u[dD][89a-fA-F]/.test(text) ? withWellFormedStrings(value) : value
}

/**
 * Whether a JSON value holds objects or arrays more than `limit` levels deep. Recursive, which is
 * safe: it never goes deeper than the limit, and a loop over an object's keys allocates nothing
 * (listing each object's values cost a 50-event request 15 µs, this 2).
 */
function nestedDeeperThan(node: unknown, limit: number): boolean {
  if (typeof node !== 'object' || node === null) return false
  if (limit === 0) return true
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) if (nestedDeeperThan(node[i], limit - 1)) return true
    return false
  }
  const object = node as Record<string, unknown>
  for (const key in object) if (nestedDeeperThan(object[key], limit - 1)) return true
  return false
}

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

function wellFormed(text: string): string {
  return text.replace(loneSurrogate, '\uFFFD')
}

/** Rewrites every string and key in place; defineProperty, so a `__proto__` key stays a plain key. */
function withWellFormedStrings(root: unknown): unknown {
  if (typeof root === 'string') return wellFormed(root)
  const pending: unknown[] = [root]
  while (pending.length > 0) {
    const node = pending.pop()
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const item: unknown = node[i]
        if (typeof item === 'string') node[i] = wellFormed(item)
        else if (typeof item === 'object' && item !== null) pending.push(item)
      }
    } else if (typeof node === 'object' && node !== null) {
      const object = node as Record<string, unknown>
      for (const key of Object.keys(object)) {
        const item = object[key]
        const fixedKey = wellFormed(key)
        const fixedItem = typeof item === 'string' ? wellFormed(item) : item
        if (fixedKey !== key) delete object[key]
        if (fixedKey !== key || fixedItem !== item) {
          Object.defineProperty(object, fixedKey, {
            value: fixedItem,
            enumerable: true,
            writable: true,
            configurable: true,
          })
        }
        if (typeof item === 'object' && item !== null) pending.push(item)
      }
    }
  }
  return root
}
