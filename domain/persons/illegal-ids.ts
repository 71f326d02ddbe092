/** Distinct ids that SDKs send by mistake; PostHog refuses to merge on them. */
const caseInsensitive = [
  'anonymous',
  'guest',
  'distinctid',
  'distinct_id',
  'id',
  'not_authenticated',
  'email',
  'undefined',
  'true',
  'false',
]
const caseSensitive = ['[object Object]', 'NaN', 'None', 'none', 'null', '0', 'undefined']

const quoted = (ids: string[]) => ids.flatMap((id) => [id, `'${id}'`, `"${id}"`])
const illegalAnyCase = new Set(quoted(caseInsensitive))
const illegalExact = new Set(quoted(caseSensitive))

export function isIllegalDistinctId(id: string): boolean {
  return id.trim() === '' || illegalAnyCase.has(id.toLowerCase()) || illegalExact.has(id)
}
