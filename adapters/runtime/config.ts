import { resolve } from 'node:path'

export const allRoles = ['capture', 'ingest', 'project', 'api'] as const
export type Role = (typeof allRoles)[number]

export const logFormats = ['auto', 'pretty', 'json'] as const
export type LogFormat = (typeof logFormats)[number]
const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
export type LogLevel = (typeof logLevels)[number]

export interface SluiceConfig {
  dataDir: string
  host: string
  port: number
  roles: Role[]
  /** Kafka bootstrap servers; null → the embedded log in the data dir. */
  kafkaBrokers: string[] | null
  /** PostgreSQL URL; null → PGlite in the data dir. */
  postgresUrl: string | null
  /** ClickHouse HTTP URL; null → chDB in the data dir. */
  clickhouseUrl: string | null
  /** Partitions of the command topic when sluice creates it. */
  partitions: number
  /** Prefix of every Kafka topic and consumer group, so several installations can share a cluster. */
  kafkaPrefix: string
  /** How long a PostgreSQL, Kafka or ClickHouse server that is away is waited for before giving up. */
  waitSeconds: number
  /** `pretty` lines for a person, `json` lines for a machine; `auto` is pretty on a terminal. */
  logFormat: LogFormat
  logLevel: LogLevel
  /** What each user app may use per event, and how many failed events in a row disable it. */
  apps: { memoryMb: number; timeoutMs: number; disableAfterFailures: number }
  /**
   * Capture on a thread of its own when it shares the process with other roles (capture-thread.ts);
   * SLUICE_CAPTURE_THREAD=off keeps it on the main thread (to measure what the thread is worth).
   */
  captureThread: boolean
  /**
   * How the main thread steps back for the capture thread (capture-thread.ts, giveWayToCapture):
   * `idle` (SCHED_IDLE where it can: it runs only on a core nothing else wants) or `nice` (nice 10:
   * a smaller share, never none — for a machine busy with other work). SLUICE_MAIN_THREAD_PRIORITY.
   */
  mainThreadPriority: MainThreadPriority
  /**
   * How long the embedded log keeps capture's request records at least once every consumer has
   * read them (Kafka's brokers keep them their own retention). SLUICE_LOG_RETENTION_HOURS.
   */
  logRetentionHours: number
  /**
   * How far behind capture the split may fall by giving way to capture's thread while that thread
   * is saturated (commands/consumers/step-aside.ts); 0 never. SLUICE_CAPTURE_PRIORITY_SECONDS.
   */
  capturePrioritySeconds: number
}

export const mainThreadPriorities = ['idle', 'nice'] as const
export type MainThreadPriority = (typeof mainThreadPriorities)[number]

/** What the command line gives: every value as typed, absent when not given. */
export interface ConfigInput {
  dataDir?: string
  host?: string
  port?: string | number
  roles?: string
  kafka?: string
  postgres?: string
  clickhouse?: string
  partitions?: string | number
  kafkaPrefix?: string
  wait?: string | number
  logFormat?: string
}

/**
 * Every setting's default, in one place: `resolveConfig` applies them after the command line and
 * the environment, and the CLI's help shows them. `sluice start` waits for servers that are away
 * (a process manager may start it before them); the one-shot commands try once and say what failed.
 */
export const defaults = {
  dataDir: '.sluice',
  host: '127.0.0.1',
  port: 8000,
  roles: 'all',
  partitions: 4,
  kafkaPrefix: '',
  waitSeconds: { start: 60, otherCommands: 0 },
  logFormat: 'auto',
  logLevel: 'warn',
  // At least as strict as the sandboxes of PostHog (its Hog VM: 64 MB, 5 s), Jitsu and RudderStack
  // (isolated-vm: 128 MB, 4–5 s): a transformation needs microseconds, and an app that loops holds
  // its ingest partition up for the whole time, until it disables itself.
  apps: { memoryMb: 64, timeoutMs: 1000, disableAfterFailures: 10 },
  captureThread: true,
  mainThreadPriority: 'idle',
  // Kafka's default (log.retention.hours): the same wherever the log runs
  logRetentionHours: 168,
  // a burst of up to 10 s is taken at capture's full speed; at most 10, under the session timeout
  // a Kafka consumer must heartbeat within (15 s), since the split waits inside a batch
  capturePrioritySeconds: 10,
} as const

/** The apps' settings, taken from the environment only (no option on the command line). */
export const appEnvironment = {
  memoryMb: 'SLUICE_APP_MEMORY_MB',
  timeoutMs: 'SLUICE_APP_TIMEOUT_MS',
  disableAfterFailures: 'SLUICE_APP_DISABLE_AFTER_FAILURES',
} as const

/** The environment variable behind each option; an option on the command line wins over it. */
export const environment = {
  dataDir: 'SLUICE_DATA_DIR',
  host: 'SLUICE_HOST',
  port: 'SLUICE_PORT',
  roles: 'SLUICE_ROLES',
  kafka: 'SLUICE_KAFKA_BROKERS',
  kafkaPrefix: 'SLUICE_KAFKA_PREFIX',
  postgres: 'SLUICE_DATABASE_URL',
  clickhouse: 'SLUICE_CLICKHOUSE_URL',
  partitions: 'SLUICE_PARTITIONS',
  wait: 'SLUICE_WAIT',
  logFormat: 'SLUICE_LOG_FORMAT',
} as const satisfies Record<keyof ConfigInput, string>

/** The option that sets a value, as a person types it: `--data-dir` for `dataDir`. */
export const flagOf = (key: keyof ConfigInput) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`

/** How a person sets the server behind each dependency, for the messages that tell them to correct it. */
export const serviceSettings = {
  postgres: `--postgres (or ${environment.postgres})`,
  log: `--kafka (or ${environment.kafka})`,
  clickhouse: `--clickhouse (or ${environment.clickhouse})`,
} as const

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

/**
 * Command-line options win over SLUICE_* environment variables, which win over `defaults`. A value
 * that cannot be right is refused with the option or variable that gave it, and an example.
 */
export function resolveConfig(
  input: ConfigInput,
  env: NodeJS.ProcessEnv = process.env,
  command: 'start' | 'other' = 'other',
): SluiceConfig {
  const given = (key: keyof ConfigInput): { value: string; from: string } | undefined => {
    const option = input[key]
    if (option !== undefined) return { value: String(option), from: flagOf(key) }
    const variable = env[environment[key]]
    return variable === undefined || variable === '' ? undefined : { value: variable, from: environment[key] }
  }
  const refuse = (setting: { value: string; from: string }, expected: string): never => {
    throw new ConfigError(`${setting.from} takes ${expected}, not "${setting.value}"`)
  }
  const wholeNumber = (key: keyof ConfigInput, fallback: number, min: number, max: number, what: string) => {
    const setting = given(key)
    if (setting === undefined) return fallback
    const value = Number(setting.value)
    return /^\d+$/.test(setting.value.trim()) && value >= min && value <= max ? value : refuse(setting, what)
  }
  const url = (key: 'postgres' | 'clickhouse', protocols: string[], example: string): string | null => {
    const setting = given(key)
    if (setting === undefined) return null
    let parsed: URL | undefined
    try {
      parsed = new URL(setting.value)
    } catch {}
    return parsed && protocols.includes(parsed.protocol) && parsed.hostname !== ''
      ? setting.value
      : refuse(setting, `a URL such as ${example}`)
  }
  const oneOf = <T extends string>(key: keyof ConfigInput, values: readonly T[], fallback: T): T => {
    const setting = given(key)
    if (setting === undefined) return fallback
    return (values as readonly string[]).includes(setting.value)
      ? (setting.value as T)
      : refuse(setting, values.join(', '))
  }

  const waitSetting = given('wait')
  const waitSeconds =
    waitSetting === undefined
      ? defaults.waitSeconds[command === 'start' ? 'start' : 'otherCommands']
      : /^\d+(\.\d+)?$/.test(waitSetting.value.trim())
        ? Number(waitSetting.value)
        : refuse(waitSetting, 'seconds, such as 60')
  const captureThreadSetting = env.SLUICE_CAPTURE_THREAD
  const captureThread =
    captureThreadSetting === undefined || captureThreadSetting === ''
      ? defaults.captureThread
      : ['on', 'true', '1'].includes(captureThreadSetting) ||
        (['off', 'false', '0'].includes(captureThreadSetting)
          ? false
          : refuse({ value: captureThreadSetting, from: 'SLUICE_CAPTURE_THREAD' }, 'on or off'))
  const priority = env.SLUICE_MAIN_THREAD_PRIORITY || defaults.mainThreadPriority
  if (!(mainThreadPriorities as readonly string[]).includes(priority))
    refuse({ value: priority, from: 'SLUICE_MAIN_THREAD_PRIORITY' }, mainThreadPriorities.join(' or '))
  const prefix = given('kafkaPrefix')
  const logLevel = env.SLUICE_LOG_LEVEL || defaults.logLevel
  if (!(logLevels as readonly string[]).includes(logLevel))
    refuse({ value: logLevel, from: 'SLUICE_LOG_LEVEL' }, logLevels.join(', '))
  const fromEnvironment = (variable: string, fallback: number, min: number, max: number, what: string) => {
    const value = env[variable]
    if (value === undefined || value === '') return fallback
    return /^\d+$/.test(value.trim()) && Number(value) >= min && Number(value) <= max
      ? Number(value)
      : refuse({ value, from: variable }, what)
  }
  return {
    dataDir: resolve(given('dataDir')?.value ?? defaults.dataDir),
    host: given('host')?.value ?? defaults.host,
    port: wholeNumber('port', defaults.port, 0, 65_535, 'a port number, 0–65535 (0 picks a free one)'),
    roles: parseRoles(given('roles') ?? { value: defaults.roles, from: 'default' }),
    kafkaBrokers: parseBrokers(given('kafka'), refuse),
    postgresUrl: url('postgres', ['postgres:', 'postgresql:'], 'postgres://postgres@127.0.0.1:5432/sluice'),
    clickhouseUrl: url('clickhouse', ['http:', 'https:'], 'http://127.0.0.1:8123'),
    partitions: wholeNumber(
      'partitions',
      defaults.partitions,
      1,
      10_000,
      'a whole number of partitions, 1 or more',
    ),
    kafkaPrefix:
      prefix === undefined
        ? defaults.kafkaPrefix
        : /^[A-Za-z0-9._-]*$/.test(prefix.value)
          ? prefix.value
          : refuse(prefix, 'letters, digits, ".", "_" and "-" (what Kafka allows in a topic name)'),
    waitSeconds,
    logFormat: oneOf('logFormat', logFormats, defaults.logFormat),
    logLevel: logLevel as LogLevel,
    captureThread,
    mainThreadPriority: priority as MainThreadPriority,
    logRetentionHours: fromEnvironment(
      'SLUICE_LOG_RETENTION_HOURS',
      defaults.logRetentionHours,
      1,
      1_000_000,
      'hours, 1 or more',
    ),
    capturePrioritySeconds: fromEnvironment(
      'SLUICE_CAPTURE_PRIORITY_SECONDS',
      defaults.capturePrioritySeconds,
      0,
      10,
      'seconds, 0–10 (0: the split never gives way to capture)',
    ),
    apps: {
      memoryMb: fromEnvironment(
        appEnvironment.memoryMb,
        defaults.apps.memoryMb,
        8,
        2048,
        'megabytes, 8–2048',
      ),
      timeoutMs: fromEnvironment(
        appEnvironment.timeoutMs,
        defaults.apps.timeoutMs,
        10,
        60_000,
        'milliseconds, 10–60000',
      ),
      disableAfterFailures: fromEnvironment(
        appEnvironment.disableAfterFailures,
        defaults.apps.disableAfterFailures,
        1,
        1_000_000,
        'a whole number of events, 1 or more',
      ),
    },
  }
}

function parseRoles(setting: { value: string; from: string }): Role[] {
  if (setting.value === 'all') return [...allRoles]
  const roles = setting.value.split(',').map((r) => r.trim())
  for (const role of roles) {
    if (!(allRoles as readonly string[]).includes(role)) {
      throw new ConfigError(
        `unknown role "${role}" in ${setting.from}; roles are ${allRoles.join(', ')} or all`,
      )
    }
  }
  return [...new Set(roles)] as Role[]
}

function parseBrokers(
  setting: { value: string; from: string } | undefined,
  refuse: (setting: { value: string; from: string }, expected: string) => never,
): string[] | null {
  if (setting === undefined) return null
  const brokers = setting.value
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean)
  const valid = (broker: string) => {
    const match = /^(.+):(\d+)$/.exec(broker)
    return match !== null && !match[1]!.includes('/') && Number(match[2]) > 0 && Number(match[2]) <= 65_535
  }
  return brokers.length > 0 && brokers.every(valid)
    ? brokers
    : refuse(setting, 'host:port[,host:port], such as 127.0.0.1:19092')
}

/** ClickHouse serves the project role (writes) and the api role (reads); capture and ingest never touch it. */
export function needsClickHouse(config: SluiceConfig): boolean {
  return config.roles.includes('project') || config.roles.includes('api')
}
