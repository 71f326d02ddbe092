/**
 * A property value as PostHog's flags service turns it into text before comparing: strings as they
 * are, anything else as compact JSON with object keys sorted (serde_json's map is ordered by key).
 * Numbers are what JSON.parse made of them, so `5.0` reads as `5` here where the service keeps
 * `5.0`: the one place the two can differ, for integral numbers written with a decimal point.
 */
export function textOf(value: unknown): string {
  return typeof value === 'string' ? value : jsonText(value)
}

function jsonText(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'number') return numberText(value)
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (typeof value === 'string') return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`
  if (typeof value === 'object') {
    const object = value as Record<string, unknown>
    const keys = Object.keys(object).sort(byCodePoint)
    return `{${keys.map((key) => `${JSON.stringify(key)}:${jsonText(object[key])}`).join(',')}}`
  }
  return 'null'
}

/** Rust's float formatting writes exponents without `+` (`1e21`, not `1e+21`). */
function numberText(value: number): string {
  if (!Number.isFinite(value)) return 'null'
  return String(value).replace('e+', 'e')
}

/** Rust orders strings by their UTF-8 bytes, which is code point order, not UTF-16 unit order. */
function byCodePoint(a: string, b: string): number {
  if (a === b) return 0
  const left = [...a]
  const right = [...b]
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const difference = left[i]!.codePointAt(0)! - right[i]!.codePointAt(0)!
    if (difference !== 0) return difference
  }
  return left.length - right.length
}
