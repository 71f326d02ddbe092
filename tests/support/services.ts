/**
 * Tests that need a real server (PostgreSQL, Kafka) run against it when it is there. On a developer
 * laptop a missing server skips those tests with a message saying why; in CI
 * (SLUICE_REQUIRE_SERVICES=1) a missing server fails them, so CI can never pass by skipping.
 */
export const servicesRequired = process.env.SLUICE_REQUIRE_SERVICES === '1'

export class ServiceUnavailableError extends Error {
  override readonly name = 'ServiceUnavailableError'
}

/** Returns whether to run; throws in CI when the service is missing. */
export function serviceAvailable(service: string, available: boolean, why: string): boolean {
  if (available) return true
  const cause = `${service} is not reachable (${why})`
  if (servicesRequired) throw new ServiceUnavailableError(`${cause}; SLUICE_REQUIRE_SERVICES=1 requires it.`)
  console.warn(`${cause}; its tests are skipped. Set SLUICE_REQUIRE_SERVICES=1 to make this a failure.`)
  return false
}
