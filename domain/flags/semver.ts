import { textOf } from './json-text.ts'

/**
 * Semantic versions as PostHog's flags service reads them for the `semver_*` operators: a leading
 * `v` dropped, missing minor/patch padded with 0 and leading zeros stripped (`3.08` is 3.8.0), then
 * strict SemVer 2.0 with pre-release and build parts — and ordered like the Rust semver crate.
 */
export interface Version {
  major: number
  minor: number
  patch: number
  pre: string[]
  build: string[]
}

const numericPart = /^(0|[1-9]\d*)$/
const preIdentifier = /^(0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)$/
const buildIdentifier = /^[0-9A-Za-z-]+$/

export function parseVersion(value: unknown): Version | null {
  const text = textOf(value)
  const normalised = (text.startsWith('v') ? text.slice(1) : text).trim()
  return parseStrict(canonical(normalised))
}

/** Pads `3.10` to `3.10.0` and strips leading zeros of numeric components; the suffix stays. */
function canonical(version: string): string {
  const suffixAt = version.search(/[-+]/)
  const core = suffixAt === -1 ? version : version.slice(0, suffixAt)
  const suffix = suffixAt === -1 ? '' : version.slice(suffixAt)
  const components = core.split('.').map(withoutLeadingZeros)
  while (components.length < 3) components.push('0')
  return `${components.join('.')}${suffix}`
}

function withoutLeadingZeros(part: string): string {
  if (part === '' || !/^\d+$/.test(part)) return part
  return part.replace(/^0+(?=\d)/, '')
}

function parseStrict(text: string): Version | null {
  const match = /^(\d+)\.(\d+)\.(\d+)(?:-([^+]+))?(?:\+(.+))?$/.exec(text)
  if (!match) return null
  const [, major, minor, patch, pre, build] = match
  if (![major, minor, patch].every((part) => numericPart.test(part!))) return null
  const preParts = pre === undefined ? [] : pre.split('.')
  const buildParts = build === undefined ? [] : build.split('.')
  if (!preParts.every((part) => preIdentifier.test(part))) return null
  if (!buildParts.every((part) => buildIdentifier.test(part))) return null
  const numbers = [Number(major), Number(minor), Number(patch)]
  if (!numbers.every(Number.isSafeInteger)) return null
  return { major: numbers[0]!, minor: numbers[1]!, patch: numbers[2]!, pre: preParts, build: buildParts }
}

/** Major, minor, patch; a pre-release sorts before its release; then build metadata. */
export function compareVersions(a: Version, b: Version): number {
  return (
    Math.sign(a.major - b.major) ||
    Math.sign(a.minor - b.minor) ||
    Math.sign(a.patch - b.patch) ||
    comparePre(a.pre, b.pre) ||
    compareIdentifiers(a.build, b.build, true)
  )
}

function comparePre(a: string[], b: string[]): number {
  if (a.length === 0) return b.length === 0 ? 0 : 1
  if (b.length === 0) return -1
  return compareIdentifiers(a, b, false)
}

/** Numeric identifiers compare as numbers and before alphanumeric ones; a shorter list sorts first. */
function compareIdentifiers(a: string[], b: string[], build: boolean): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const left = a[i]!
    const right = b[i]!
    const leftNumeric = /^\d+$/.test(left)
    const rightNumeric = /^\d+$/.test(right)
    let difference: number
    if (leftNumeric && rightNumeric) {
      const l = build ? withoutLeadingZeros(left) : left
      const r = build ? withoutLeadingZeros(right) : right
      difference = l.length - r.length || (l < r ? -1 : l > r ? 1 : 0) || left.length - right.length
    } else if (leftNumeric !== rightNumeric) difference = leftNumeric ? -1 : 1
    else difference = left < right ? -1 : left > right ? 1 : 0
    if (difference !== 0) return Math.sign(difference)
  }
  return Math.sign(a.length - b.length)
}

/** A range `[lower, upper)` a requirement allows; a pre-release matches only its own release. */
export interface VersionRange {
  lower: Version | null
  upper: Version | null
  /** A pre-release version matches only when the requirement names a pre-release of that release. */
  preReleaseOf: Version | null
}

const release = (major: number, minor: number, patch: number): Version => ({
  major,
  minor,
  patch,
  pre: [],
  build: [],
})

/** `~1.2.3`: the same minor. The filter value is canonicalised first, so a tilde always has three parts. */
export function tildeRange(filter: unknown): VersionRange | null {
  const version = parseVersion(filter)
  if (!version) return null
  return {
    lower: version,
    upper: release(version.major, version.minor + 1, 0),
    preReleaseOf: version.pre.length > 0 ? version : null,
  }
}

/** `^1.2.3`: the same left-most non-zero component. */
export function caretRange(filter: unknown): VersionRange | null {
  const version = parseVersion(filter)
  if (!version) return null
  const upper =
    version.major > 0
      ? release(version.major + 1, 0, 0)
      : version.minor > 0
        ? release(0, version.minor + 1, 0)
        : release(0, 0, version.patch + 1)
  return { lower: version, upper, preReleaseOf: version.pre.length > 0 ? version : null }
}

/**
 * `1.2.*`, `1.*`, `1.x.x`, `*`: everything under the fixed components. Without any wildcard the
 * text is a plain requirement, which the semver crate reads as a caret one (`1.2` is `^1.2`).
 */
export function wildcardRange(filter: unknown): VersionRange | null {
  const text = textOf(filter)
  const normalised = (text.startsWith('v') ? text.slice(1) : text).trim()
  const parts = normalised.split('.').map(withoutLeadingZeros)
  if (!parts.some(isWildcard)) return partialCaretRange(normalised, parts)
  const wildcardAt = parts.findIndex(isWildcard)
  const fixed = parts.slice(0, wildcardAt)
  if (parts.length > 3 || !parts.slice(wildcardAt).every(isWildcard)) return null
  if (!fixed.every((part) => numericPart.test(part))) return null
  const [major, minor] = fixed.map(Number)
  if (major === undefined) return { lower: null, upper: null, preReleaseOf: null }
  if (minor === undefined) return span(release(major, 0, 0), release(major + 1, 0, 0))
  return span(release(major, minor, 0), release(major, minor + 1, 0))
}

const isWildcard = (part: string) => part === '*' || part === 'x' || part === 'X'
const span = (lower: Version, upper: Version): VersionRange => ({ lower, upper, preReleaseOf: null })

/** `^1` is [1.0.0, 2.0.0), `^0.2` is [0.2.0, 0.3.0), `^0.0` is [0.0.0, 0.1.0); three parts: caretRange. */
function partialCaretRange(text: string, parts: string[]): VersionRange | null {
  if (parts.length >= 3) return caretRange(text)
  if (!parts.every((part) => numericPart.test(part))) return null
  const [major, minor] = parts.map(Number)
  if (minor === undefined) return span(release(major!, 0, 0), release(major! + 1, 0, 0))
  if (major! > 0) return span(release(major!, minor, 0), release(major! + 1, 0, 0))
  return span(release(0, minor, 0), release(0, minor + 1, 0))
}

export function inRange(version: Version, range: VersionRange): boolean {
  if (range.lower && compareVersions(version, range.lower) < 0) return false
  if (range.upper && compareVersions(version, range.upper) >= 0) return false
  if (version.pre.length === 0) return true
  const of = range.preReleaseOf
  return of !== null && of.major === version.major && of.minor === version.minor && of.patch === version.patch
}
