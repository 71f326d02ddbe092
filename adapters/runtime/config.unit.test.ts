import { describe, expect, it } from 'vitest'
import { ConfigError, defaults, flagOf, resolveConfig } from './config.ts'

describe('configuration', () => {
  it('defaults to everything embedded on 127.0.0.1:8000 with all roles', () => {
    const config = resolveConfig({}, {})
    expect(config).toMatchObject({
      host: defaults.host,
      port: defaults.port,
      roles: ['capture', 'ingest', 'project', 'api'],
      kafkaBrokers: null,
      postgresUrl: null,
      clickhouseUrl: null,
      waitSeconds: defaults.waitSeconds.otherCommands,
      logFormat: 'auto',
      logLevel: 'warn',
      mainThreadPriority: 'idle',
      logRetentionHours: 168,
    })
    expect(config.dataDir.endsWith('/.sluice')).toBe(true)
    expect(resolveConfig({}, {}, 'start').waitSeconds).toBe(defaults.waitSeconds.start)
  })

  it('takes every setting from SLUICE_* variables when no option gives it', () => {
    const config = resolveConfig(
      {},
      {
        SLUICE_PORT: '9999',
        SLUICE_HOST: '0.0.0.0',
        SLUICE_ROLES: 'capture,api',
        SLUICE_DATA_DIR: '/tmp/elsewhere',
        SLUICE_PARTITIONS: '8',
        SLUICE_WAIT: '5',
        SLUICE_LOG_FORMAT: 'json',
        SLUICE_LOG_LEVEL: 'debug',
        SLUICE_MAIN_THREAD_PRIORITY: 'nice',
        SLUICE_LOG_RETENTION_HOURS: '24',
        SLUICE_CAPTURE_PRIORITY_SECONDS: '0',
      },
      'start',
    )
    expect(config).toMatchObject({
      port: 9999,
      host: '0.0.0.0',
      roles: ['capture', 'api'],
      dataDir: '/tmp/elsewhere',
      partitions: 8,
      waitSeconds: 5,
      logFormat: 'json',
      logLevel: 'debug',
      mainThreadPriority: 'nice',
      logRetentionHours: 24,
      capturePrioritySeconds: 0,
    })
    expect(() => resolveConfig({}, { SLUICE_LOG_RETENTION_HOURS: '0' })).toThrow(
      new ConfigError('SLUICE_LOG_RETENTION_HOURS takes hours, 1 or more, not "0"'),
    )
    expect(() => resolveConfig({}, { SLUICE_CAPTURE_PRIORITY_SECONDS: '11' })).toThrow(
      new ConfigError(
        'SLUICE_CAPTURE_PRIORITY_SECONDS takes seconds, 0–10 (0: the split never gives way to capture), not "11"',
      ),
    )
  })

  it('takes options before the environment', () => {
    const config = resolveConfig(
      { kafka: '127.0.0.1:1,127.0.0.1:2', roles: 'ingest', port: '8001' },
      {
        SLUICE_KAFKA_BROKERS: 'ignored:9',
        SLUICE_DATABASE_URL: 'postgres://x/y',
        SLUICE_CLICKHOUSE_URL: 'http://ch:8123',
        SLUICE_PORT: '9999',
      },
    )
    expect(config.kafkaBrokers).toEqual(['127.0.0.1:1', '127.0.0.1:2'])
    expect(config.postgresUrl).toBe('postgres://x/y')
    expect(config.clickhouseUrl).toBe('http://ch:8123')
    expect(config.roles).toEqual(['ingest'])
    expect(config.port).toBe(8001)
  })

  it('refuses a value that cannot be right, naming the option or variable that gave it', () => {
    const refused = (input: Parameters<typeof resolveConfig>[0], env: NodeJS.ProcessEnv = {}) => {
      try {
        resolveConfig(input, env)
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError)
        return (error as Error).message
      }
      throw new Error(`accepted ${JSON.stringify({ input, env })}`)
    }
    expect(refused({ roles: 'capture,index' })).toMatch(/unknown role "index" in --roles/)
    expect(refused({}, { SLUICE_ROLES: 'everything' })).toMatch(/unknown role "everything" in SLUICE_ROLES/)
    expect(refused({ port: '70000' })).toBe(
      '--port takes a port number, 0–65535 (0 picks a free one), not "70000"',
    )
    expect(refused({ port: 'abc' })).toMatch(/^--port takes a port number/)
    expect(refused({}, { SLUICE_PORT: '8o00' })).toMatch(/^SLUICE_PORT takes a port number.*not "8o00"/)
    expect(refused({ postgres: 'localhost:5432/sluice' })).toMatch(
      /^--postgres takes a URL such as postgres:\/\/postgres@127.0.0.1:5432\/sluice/,
    )
    expect(refused({}, { SLUICE_DATABASE_URL: 'mysql://x/y' })).toMatch(/^SLUICE_DATABASE_URL takes a URL/)
    expect(refused({ clickhouse: 'clickhouse:8123' })).toMatch(/^--clickhouse takes a URL such as http/)
    expect(refused({ kafka: '127.0.0.1' })).toMatch(/^--kafka takes host:port\[,host:port\]/)
    expect(refused({ kafka: 'kafka:9092,kafka:x' })).toMatch(/--kafka takes/)
    expect(refused({ kafkaPrefix: 'a b' })).toMatch(/^--kafka-prefix takes letters, digits/)
    expect(refused({ partitions: '0' })).toMatch(/^--partitions takes a whole number of partitions/)
    expect(refused({ wait: 'forever' })).toMatch(/^--wait takes seconds, such as 60/)
    expect(refused({ logFormat: 'xml' })).toBe('--log-format takes auto, pretty, json, not "xml"')
    expect(refused({}, { SLUICE_LOG_LEVEL: 'loud' })).toMatch(/^SLUICE_LOG_LEVEL takes trace, debug/)
    expect(refused({}, { SLUICE_MAIN_THREAD_PRIORITY: 'high' })).toBe(
      'SLUICE_MAIN_THREAD_PRIORITY takes idle or nice, not "high"',
    )
  })

  it("takes the apps' limits from SLUICE_APP_* only, and refuses one that cannot be right", () => {
    expect(resolveConfig({}, {}).apps).toEqual({ memoryMb: 64, timeoutMs: 1000, disableAfterFailures: 10 })
    const env = {
      SLUICE_APP_MEMORY_MB: '128',
      SLUICE_APP_TIMEOUT_MS: '250',
      SLUICE_APP_DISABLE_AFTER_FAILURES: '3',
    }
    expect(resolveConfig({}, env).apps).toEqual({ memoryMb: 128, timeoutMs: 250, disableAfterFailures: 3 })
    expect(() => resolveConfig({}, { SLUICE_APP_TIMEOUT_MS: '5s' })).toThrow(
      new ConfigError('SLUICE_APP_TIMEOUT_MS takes milliseconds, 10–60000, not "5s"'),
    )
    expect(() => resolveConfig({}, { SLUICE_APP_MEMORY_MB: '4' })).toThrow(
      /SLUICE_APP_MEMORY_MB takes megabytes/,
    )
    expect(() => resolveConfig({}, { SLUICE_APP_DISABLE_AFTER_FAILURES: '0' })).toThrow(ConfigError)
  })

  it('names options as a person types them', () => {
    expect(flagOf('dataDir')).toBe('--data-dir')
    expect(flagOf('kafkaPrefix')).toBe('--kafka-prefix')
    expect(flagOf('port')).toBe('--port')
  })
})
