import { describe, expect, it } from 'vitest'
import { ConfigError, resolveConfig, usesDataDir } from './config.ts'

describe('configuration', () => {
  it('defaults to everything embedded on 127.0.0.1:8000 with all roles', () => {
    const config = resolveConfig({}, {})
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8000,
      roles: ['capture', 'ingest', 'project', 'api'],
    })
    expect(config.dataDir.endsWith('/.sluice')).toBe(true)
    expect(usesDataDir(config)).toBe(true)
  })

  it('takes services from options before the environment', () => {
    const config = resolveConfig(
      { kafka: '127.0.0.1:1,127.0.0.1:2', roles: 'ingest' },
      {
        SLUICE_KAFKA_BROKERS: 'ignored:9',
        SLUICE_DATABASE_URL: 'postgres://x/y',
        SLUICE_CLICKHOUSE_URL: 'http://ch:8123',
      },
    )
    expect(config.kafkaBrokers).toEqual(['127.0.0.1:1', '127.0.0.1:2'])
    expect(config.postgresUrl).toBe('postgres://x/y')
    expect(config.roles).toEqual(['ingest'])
    expect(usesDataDir(config)).toBe(false)
  })

  it('refuses unknown roles and bad ports with a clear message', () => {
    expect(() => resolveConfig({ roles: 'capture,index' }, {})).toThrow(ConfigError)
    expect(() => resolveConfig({ roles: 'capture,index' }, {})).toThrow(/unknown role "index"/)
    expect(() => resolveConfig({ port: '70000' }, {})).toThrow(/--port/)
  })
})
