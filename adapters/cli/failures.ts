import { inspect } from 'node:util'
import { UnknownDeadLetterError } from '../../commands/dlq/dead-letters.ts'
import { type Dependency, isDependencyUnavailable, NewerSchemaError } from '../../ports/failures.ts'
import { sqlStateOf } from '../../projections/postgres/database-errors.ts'
import { describePostgres } from '../postgres/connect.ts'
import { CannotCreateDatabaseError, databaseNameOf, userOf } from '../postgres/server.ts'
import { ConfigError, environment, type SluiceConfig, serviceSettings } from '../runtime/config.ts'
import { DataDirError } from '../runtime/data-dir.ts'
import { DataDirLockedError } from '../runtime/data-dir-lock.ts'
import { reasonOf } from '../runtime/failure-reason.ts'
import { UnknownProjectError } from '../runtime/projects.ts'
import { GaveUpWaitingError, InterruptedError } from '../runtime/wait-for-dependency.ts'
import { RunningSluiceError } from './running-sluice.ts'

/** A failure told to the person who ran the command: what failed, then what to do about it. */
export interface Failure {
  /** Stable, for tests and for searching: `postgres/database_missing`. */
  code: string
  problem: string
  fix: string
  /** 2 for what was asked wrongly (options, names), 1 for what the environment refused, 130 for Ctrl-C. */
  exitCode: 1 | 2 | 130
}

export interface FailureContext {
  /** `sluice init`, `sluice start` … */
  command: string
  /** Null when the configuration itself could not be read. */
  config: SluiceConfig | null
}

type Explanation = Pick<Failure, 'problem' | 'fix'>

interface Entry {
  code: string
  exitCode: Failure['exitCode']
  explain(error: unknown, context: FailureContext): Explanation | undefined
}

const dataDirOption = `--data-dir (or ${environment.dataDir})`

/** The server or embedded backend behind a dependency, as the configuration has it. */
const serviceName = (dependency: Dependency, config: SluiceConfig | null): string => {
  if (dependency === 'postgres') return config?.postgresUrl === null ? 'PGlite' : 'PostgreSQL'
  if (dependency === 'log') return config?.kafkaBrokers === null ? 'the embedded log' : 'Kafka'
  return config?.clickhouseUrl === null ? 'chDB' : 'ClickHouse'
}

/** The PostgreSQL server of the configuration, named without its password. */
const postgresServer = (config: SluiceConfig | null) =>
  config?.postgresUrl ? describePostgres({ kind: 'pg', url: config.postgresUrl }) : 'PostgreSQL'

/** A failure of the PostgreSQL server (not PGlite), by SQLSTATE, with the URL it came from. */
const postgresState =
  (states: string[], explain: (url: string, error: unknown) => Explanation) =>
  (error: unknown, { config }: FailureContext) => {
    const state = sqlStateOf(error)
    return config?.postgresUrl && state !== undefined && states.includes(state)
      ? explain(config.postgresUrl, error)
      : undefined
  }

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error))

/** Node's error for a socket that could not listen, with the address it tried. */
const listenError = (error: unknown, codes: string[]) => {
  const e = error as { code?: unknown; syscall?: unknown; address?: unknown; port?: unknown }
  return e?.syscall === 'listen' && typeof e.code === 'string' && codes.includes(e.code)
    ? { address: String(e.address), port: String(e.port) }
    : undefined
}

/**
 * Every failure a person running sluice can cause or meet, with the fix to print — first match wins.
 * What is not here is unexpected, and reported as such (`unexpected`).
 */
const catalogue: Entry[] = [
  {
    code: 'config/invalid',
    exitCode: 2,
    explain: (error, { command }) =>
      error instanceof ConfigError
        ? { problem: error.message, fix: `\`${command} --help\` lists the options, with examples.` }
        : undefined,
  },
  {
    code: 'data_dir/in_use',
    exitCode: 2,
    explain: (error) => {
      if (!(error instanceof DataDirLockedError)) return undefined
      const { holder } = error
      return {
        problem:
          `the data dir ${error.dataDir} is in use by process ${holder.pid} on ${holder.hostname} ` +
          `(\`${holder.command}\`, started ${holder.startedAt}${holder.url ? `, serving ${holder.url}` : ''})`,
        fix:
          holder.url === undefined && holder.command === 'sluice start'
            ? 'It is still starting: run this again once it serves, or stop it first.'
            : `Stop that process first, or use another ${dataDirOption}.`,
      }
    },
  },
  {
    code: 'data_dir/missing',
    exitCode: 2,
    explain: (error) =>
      error instanceof DataDirError && error.problem === 'missing'
        ? {
            problem: `there is no data dir at ${error.dataDir}`,
            fix: `\`sluice init --data-dir ${error.dataDir}\` makes one; or point ${dataDirOption} at an existing one.`,
          }
        : undefined,
  },
  {
    code: 'data_dir/not_a_directory',
    exitCode: 2,
    explain: (error) =>
      error instanceof DataDirError && error.problem === 'not_a_directory'
        ? {
            problem: `the data dir ${error.dataDir} is not a directory (a file is in its place or in its path)`,
            fix: `Point ${dataDirOption} at a directory; sluice start and sluice init make one that does not exist.`,
          }
        : undefined,
  },
  {
    code: 'data_dir/not_a_data_dir',
    exitCode: 2,
    explain: (error) =>
      error instanceof DataDirError && error.problem === 'not_a_data_dir'
        ? {
            problem: `${error.dataDir} holds nothing of sluice (no postgres/, log/ or clickhouse/ in it)`,
            fix: `Point ${dataDirOption} at the directory sluice start used, or run \`sluice init --data-dir ${error.dataDir}\`.`,
          }
        : undefined,
  },
  {
    code: 'data_dir/not_accessible',
    exitCode: 1,
    explain: (error) =>
      error instanceof DataDirError && error.problem === 'not_accessible'
        ? {
            problem: `cannot read and write the data dir ${error.dataDir} (${reasonOf(error.cause)})`,
            fix: 'Run sluice as the user that owns it, or give this user access to it (chown, chmod).',
          }
        : undefined,
  },
  {
    code: 'schema/newer',
    exitCode: 1,
    explain: (error, { config }) => {
      if (!(error instanceof NewerSchemaError)) return undefined
      const embedded = error.store === 'PostgreSQL' ? !config?.postgresUrl : !config?.clickhouseUrl
      const where = embedded
        ? `the data dir ${config?.dataDir ?? ''}`
        : error.store === 'PostgreSQL'
          ? postgresServer(config)
          : 'the ClickHouse server'
      const setting = embedded
        ? dataDirOption
        : error.store === 'PostgreSQL'
          ? serviceSettings.postgres
          : serviceSettings.clickhouse
      return {
        problem: `${where} was written by a newer sluice (${error.store} schema version ${error.found}; this sluice knows up to ${error.known})`,
        fix: `Run that newer sluice release (npm install sluice@latest), or point ${setting} elsewhere.`,
      }
    },
  },
  {
    code: 'dependency/unreachable',
    exitCode: 1,
    explain: (error, { config }) => {
      if (!(error instanceof GaveUpWaitingError)) return undefined
      const service = serviceName(error.dependency, config)
      return {
        problem: error.message,
        fix:
          `Start ${service}, or correct ${serviceSettings[error.dependency]}` +
          (error.waitedSeconds === 0
            ? '; `--wait 60` waits up to a minute for it to come up.'
            : '; --wait sets how long sluice waits.'),
      }
    },
  },
  {
    code: 'dependency/lost',
    exitCode: 1,
    explain: (error, { config }) =>
      isDependencyUnavailable(error)
        ? {
            problem: `${serviceName(error.dependency, config)} became unavailable (${reasonOf(error)})`,
            fix: 'Check that it runs and has room to write, then run the command again.',
          }
        : undefined,
  },
  // before the SQLSTATE entries: it wraps the server's 42501
  {
    code: 'postgres/cannot_create_database',
    exitCode: 1,
    explain: (error, { config }) =>
      error instanceof CannotCreateDatabaseError
        ? {
            problem: `${postgresServer(config)}: user "${error.user}" may not create the database "${error.database}"`,
            fix: `Have an administrator run CREATE DATABASE "${error.database}" OWNER "${error.user}", then run this again.`,
          }
        : undefined,
  },
  {
    code: 'postgres/database_missing',
    exitCode: 1,
    explain: postgresState(['3D000'], (url) => ({
      problem: `${describePostgres({ kind: 'pg', url })}: the database "${databaseNameOf(url)}" does not exist`,
      fix: `\`sluice init --postgres ${redacted(url)}\` creates it (when the user may), or create it with createdb.`,
    })),
  },
  {
    code: 'postgres/password_refused',
    exitCode: 1,
    explain: postgresState(['28P01'], (url) => ({
      problem: `${describePostgres({ kind: 'pg', url })} refused the password of user "${userOf(url)}"`,
      fix: `Correct the password in ${serviceSettings.postgres}: postgres://user:password@host:5432/database.`,
    })),
  },
  {
    code: 'postgres/login_refused',
    exitCode: 1,
    explain: postgresState(['28000'], (url, error) => ({
      problem: `${describePostgres({ kind: 'pg', url })} refused the login of user "${userOf(url)}" (${messageOf(error)})`,
      fix: `Connect as a user the server knows and lets in (its pg_hba.conf): correct ${serviceSettings.postgres}.`,
    })),
  },
  {
    code: 'postgres/permission_denied',
    exitCode: 1,
    explain: postgresState(['42501'], (url, error) => ({
      problem: `user "${userOf(url)}" may not create sluice's tables in ${describePostgres({ kind: 'pg', url })} (${messageOf(error)})`,
      fix: `Make the user the database's owner (ALTER DATABASE "${databaseNameOf(url)}" OWNER TO "${userOf(url)}"), or connect as its owner.`,
    })),
  },
  {
    code: 'clickhouse/login_refused',
    exitCode: 1,
    explain: (error, { config }) => {
      const code = (error as { type?: unknown })?.type
      return config?.clickhouseUrl && (code === 'AUTHENTICATION_FAILED' || code === 'UNKNOWN_USER')
        ? {
            problem: `ClickHouse at ${new URL(config.clickhouseUrl).host} refused the login (${messageOf(error).split('.')[0]})`,
            fix: `Correct the user and password in ${serviceSettings.clickhouse}: http://user:password@host:8123.`,
          }
        : undefined
    },
  },
  {
    code: 'http/port_in_use',
    exitCode: 1,
    explain: (error) => {
      const at = listenError(error, ['EADDRINUSE'])
      return at
        ? {
            problem: `cannot listen on ${at.address}:${at.port}: another program (another sluice?) is using the port`,
            fix: `Stop that program, or give sluice another port with --port (or ${environment.port}).`,
          }
        : undefined
    },
  },
  {
    code: 'http/port_not_allowed',
    exitCode: 1,
    explain: (error) => {
      const at = listenError(error, ['EACCES', 'EPERM'])
      return at
        ? {
            problem: `this user may not listen on ${at.address}:${at.port}`,
            fix: `Ports below 1024 need privileges: use --port 8000 (or ${environment.port}) and a proxy in front.`,
          }
        : undefined
    },
  },
  {
    code: 'http/address_not_available',
    exitCode: 1,
    explain: (error) => {
      const at = listenError(error, ['EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN'])
      return at
        ? {
            problem: `cannot listen on ${at.address}: it is not an address of this machine`,
            fix: `Give --host (or ${environment.host}) an address of this machine: 127.0.0.1, or 0.0.0.0 for every interface.`,
          }
        : undefined
    },
  },
  {
    code: 'running_sluice/failed',
    exitCode: 1,
    explain: (error) =>
      error instanceof RunningSluiceError
        ? { problem: error.message, fix: 'Its log says more; or stop it and run this command again.' }
        : undefined,
  },
  {
    code: 'project/unknown',
    exitCode: 2,
    explain: (error) =>
      error instanceof UnknownProjectError
        ? {
            problem: error.message,
            fix:
              error.existing.length === 0
                ? `\`sluice init\` creates the first project.`
                : 'Name one of them with --project, or make another with `sluice projects create --name N`.',
          }
        : undefined,
  },
  {
    code: 'dead_letter/unknown',
    exitCode: 2,
    explain: (error) =>
      error instanceof UnknownDeadLetterError
        ? { problem: error.message, fix: '`sluice dlq list` shows the letters and their ids.' }
        : undefined,
  },
  {
    code: 'interrupted',
    exitCode: 130,
    explain: (error) =>
      error instanceof InterruptedError
        ? { problem: 'stopped before it had started (Ctrl-C)', fix: 'Nothing was left running.' }
        : undefined,
  },
]

/** What to tell the person who ran `context.command` about `error`. */
export function explainFailure(error: unknown, context: FailureContext): Failure {
  for (const entry of catalogue) {
    const explanation = entry.explain(error, context)
    if (explanation) return { code: entry.code, exitCode: entry.exitCode, ...explanation }
  }
  return {
    code: 'unexpected',
    exitCode: 1,
    problem: `${context.command} failed: ${messageOf(error).split('\n')[0]}`,
    fix: 'This was not expected: SLUICE_LOG_LEVEL=debug shows the stack trace — please report it with that.',
  }
}

/**
 * The one or two lines a failure prints on stderr, the fix last; with SLUICE_LOG_LEVEL=debug
 * followed by the error itself, its stack and what it wraps.
 */
export function failureText(failure: Failure, error: unknown, debug: boolean): string {
  const lines = [`sluice: ${failure.problem}`, `  ${failure.fix}`]
  if (debug) lines.push('', inspect(error, { depth: 6 }))
  return `${lines.join('\n')}\n`
}

/** A URL as it may be printed: without its password. */
function redacted(url: string): string {
  const parsed = new URL(url)
  if (parsed.password) parsed.password = 'PASSWORD'
  return parsed.toString()
}
