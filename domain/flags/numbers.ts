import { textOf } from './json-text.ts'

// Rust's `str::parse::<f64>` grammar: no whitespace, optional sign, `5.`, `.5`, exponents, inf, nan.
const rustFloat = /^[+-]?(?:\d+\.?\d*(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?|inf|infinity|nan)$/i

/** Text as the flags service parses a number out of it, or null where it would not. */
export function parseFloatText(text: string): number | null {
  if (!rustFloat.test(text)) return null
  const unsigned = text.replace(/^[+-]/, '').toLowerCase()
  const sign = text.startsWith('-') ? -1 : 1
  if (unsigned === 'inf' || unsigned === 'infinity') return sign * Number.POSITIVE_INFINITY
  if (unsigned === 'nan') return Number.NaN
  return Number(text)
}

/** A JSON number as it is, anything else through its text (so `"42"` is 42 and `true` is none). */
export function numberOf(value: unknown): number | null {
  return typeof value === 'number' ? value : parseFloatText(textOf(value))
}
