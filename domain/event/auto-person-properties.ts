import { isObject } from '../ingest/pipeline-event.ts'
import { defineProperty } from '../persons/property-updates.ts'

// Event properties PostHog copies to the person: the latest value into `$set`, the first one into
// `$set_once` as `$initial_<name>`.
const deviceKeys = [
  '$app_build',
  '$app_name',
  '$app_namespace',
  '$app_version',
  '$browser',
  '$browser_version',
  '$device_type',
  '$current_url',
  '$pathname',
  '$os',
  '$os_version',
  '$referring_domain',
  '$referrer',
  '$screen_height',
  '$screen_width',
  '$viewport_height',
  '$viewport_width',
  '$raw_user_agent',
]
const campaignKeys = [
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_content',
  'utm_name',
  'utm_term',
  'gclid',
  'gad_source',
  'gclsrc',
  'dclid',
  'gbraid',
  'wbraid',
  'fbclid',
  'msclkid',
  'twclid',
  'li_fat_id',
  'mc_cid',
  'igshid',
  'ttclid',
  'rdt_cid',
  'irclid',
  '_kx',
  'epik',
  'qclid',
  'sccid',
]
// each key, in PostHog's order, with the `$set_once` name of its first value
const copiedKeys = [...deviceKeys, ...campaignKeys].map(
  (key) => [key, `$initial_${key.replace(/^\$/, '')}`] as const,
)
/** Each event property ingestion copies to the person, with the `$initial_…` name of its first value. */
export const initialPersonPropertyOf: ReadonlyMap<string, string> = new Map(copiedKeys)
const copiedKeyOrder = new Map(copiedKeys.map(([key], i) => [key, i]))
const skipEvents = new Set(['$snapshot', '$performance_event'])
const serverSkips = new Set(['$os', '$os_version'])

/** Adds the automatic person properties to `$set`/`$set_once`; values the event set explicitly win. */
export function withAutoPersonProperties(
  event: string,
  properties: Record<string, unknown>,
): Record<string, unknown> {
  if (skipEvents.has(event)) return properties
  const isServer = properties.$is_server === true
  // Most events carry few of the keys: find those among the event's own keys.
  const present: number[] = []
  for (const key of Object.keys(properties)) {
    const index = copiedKeyOrder.get(key === '$os_name' ? '$os' : key)
    if (index !== undefined && !present.includes(index)) present.push(index)
  }
  if (present.length === 0) return properties
  const set: Record<string, unknown> = {}
  const setOnce: Record<string, unknown> = {}
  for (const index of present.sort((a, b) => a - b)) {
    const [key, initialKey] = copiedKeys[index]!
    if (isServer && serverSkips.has(key)) continue
    let value = properties[key]
    // `$os_name` only stands in for a missing `$os`.
    if (key === '$os' && value === undefined) value = properties.$os_name
    if (value === undefined) continue
    defineProperty(set, key, value)
    defineProperty(setOnce, initialKey, value)
  }
  if (Object.keys(set).length === 0) return properties
  const explicitSet = isObject(properties.$set) ? properties.$set : {}
  const explicitSetOnce = isObject(properties.$set_once) ? properties.$set_once : {}
  return { ...properties, $set: { ...set, ...explicitSet }, $set_once: { ...setOnce, ...explicitSetOnce } }
}
