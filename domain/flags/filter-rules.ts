import { type FlagFilters, type PropertyOperator, propertyOperators } from '../../schema/flags.ts'

const operators = new Set<string>(propertyOperators)

/** Filter shapes PostHog has that sluice refuses, rather than evaluate them some other way. */
const unsupported: Record<string, string> = {
  super_groups: 'early access enrolment (super_groups) is not supported',
  feature_enrollment: 'early access enrolment (feature_enrollment) is not supported',
  holdout_groups: 'legacy holdout_groups are not supported; use holdout {id, exclusion_percentage}',
}

/**
 * The rules a flag's filters must keep beyond their shape (which the schema checks): variants
 * whose rollouts add up to 100 with distinct keys, condition variants that exist, known operators,
 * and only what sluice evaluates — person and group filters (no cohorts, no flag dependencies).
 * Returns one sentence per problem; none means valid.
 */
export function filterProblems(filters: FlagFilters): string[] {
  const problems: string[] = []
  const fields = filters as Record<string, unknown>
  for (const [field, why] of Object.entries(unsupported))
    if (fields[field] !== undefined && fields[field] !== null && fields[field] !== false) problems.push(why)

  const variants = filters.multivariate?.variants ?? []
  const keys = new Set(variants.map((v) => v.key))
  if (filters.multivariate) {
    if (variants.length === 0) problems.push('multivariate needs at least one variant')
    if (keys.size !== variants.length) problems.push('variant keys must be unique')
    const total = variants.reduce((sum, v) => sum + v.rollout_percentage, 0)
    // Two decimals, as PostHog's UI splits 100 three ways as 33.33 + 33.33 + 33.34.
    if (variants.length > 0 && Math.abs(total - 100) > 1e-9)
      problems.push('variant rollout percentages must sum to 100')
  }
  for (const [index, condition] of (filters.groups ?? []).entries()) {
    const where = `condition ${index + 1}`
    if (condition.variant !== undefined && condition.variant !== null && !keys.has(condition.variant))
      problems.push(`${where}: variant "${condition.variant}" is not one of the flag's variants`)
    for (const filter of condition.properties ?? []) {
      const type = filter.type ?? 'person'
      if (type === 'cohort')
        problems.push(`${where}: cohort filters are not supported (sluice has no cohorts)`)
      else if (type === 'flag') problems.push(`${where}: flag dependency filters are not supported`)
      else if (type !== 'person' && type !== 'group')
        problems.push(`${where}: filter type "${type}" is not one of person, group`)
      const operator = filter.operator ?? 'exact'
      if (!operators.has(operator))
        problems.push(`${where}: unknown operator "${operator}" on "${filter.key}"`)
      else if (
        needsValue(operator as PropertyOperator) &&
        (filter.value === undefined || filter.value === null)
      )
        problems.push(`${where}: "${filter.key}" ${operator} needs a value`)
    }
  }
  return problems
}

function needsValue(operator: PropertyOperator): boolean {
  return operator !== 'is_set' && operator !== 'is_not_set'
}

/**
 * Filters as stored: without release conditions a flag has one for everyone (PostHog reads a
 * flag's filters that way), keeping any top-level `properties` an old client sent.
 */
export function withDefaultConditions(filters: FlagFilters | undefined): FlagFilters {
  if (filters?.groups) return filters
  const { properties, ...rest } = (filters ?? {}) as FlagFilters & { properties?: unknown }
  return {
    ...rest,
    groups: [{ properties: Array.isArray(properties) ? properties : [], rollout_percentage: null }],
  }
}
