import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { errorCatalogue, HttpError } from './errors.ts'

describe('the HTTP error catalogue', () => {
  it('gives each code its status and type', () => {
    const error = new HttpError('log_unavailable', 'retry')
    expect([error.status, error.type, error.code, error.detail]).toEqual([
      503,
      'unavailable',
      'log_unavailable',
      'retry',
    ])
    for (const [code, entry] of Object.entries(errorCatalogue)) {
      // a 4xx tells an SDK to drop the request: only for what can never succeed
      if (entry.type === 'unavailable' || entry.type === 'server_error')
        expect(entry.status, code).toBeGreaterThanOrEqual(500)
      else expect(entry.status, code).toBeLessThan(500)
    }
  })

  it('is documented in the README, code by code, with the same status', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
    for (const [code, entry] of Object.entries(errorCatalogue))
      expect(readme, code).toContain(`| \`${code}\` | ${entry.status} | ${entry.when} |`)
  })
})
