import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { NewerSchemaError } from '../../ports/failures.ts'
import { CannotCreateDatabaseError } from '../postgres/server.ts'
import { ConfigError, resolveConfig } from '../runtime/config.ts'
import { DataDirError } from '../runtime/data-dir.ts'
import { DataDirLockedError } from '../runtime/data-dir-lock.ts'
import { GaveUpWaitingError } from '../runtime/wait-for-dependency.ts'
import { explainFailure, failureText } from './failures.ts'

/** An error as pg raises it for a message from the server with this SQLSTATE. */
const serverError = (code: string, message: string) => {
  const error = new pg.DatabaseError(message, message.length, 'error')
  error.code = code
  return error
}

const onServer = resolveConfig(
  { postgres: 'postgres://ada:secret@db.example:5432/sluice', kafka: 'k:9092' },
  {},
)
const embedded = resolveConfig({ dataDir: '/srv/sluice' }, {})
const explain = (error: unknown, config = onServer) =>
  explainFailure(error, { command: 'sluice start', config })

describe('the failures a person running sluice is told about', () => {
  it('says what failed and what to do for what the PostgreSQL server answers, never its password', () => {
    const cases: [Error, string, RegExp, RegExp][] = [
      [
        serverError('28P01', 'password authentication failed for user "ada"'),
        'postgres/password_refused',
        /PostgreSQL at db.example:5432\/sluice refused the password of user "ada"/,
        /Correct the password in --postgres \(or SLUICE_DATABASE_URL\)/,
      ],
      [
        serverError('3D000', 'database "sluice" does not exist'),
        'postgres/database_missing',
        /the database "sluice" does not exist/,
        /`sluice init --postgres postgres:\/\/ada:PASSWORD@db.example:5432\/sluice` creates it/,
      ],
      [
        serverError('28000', 'role "ada" does not exist'),
        'postgres/login_refused',
        /refused the login of user "ada" \(role "ada" does not exist\)/,
        /pg_hba.conf/,
      ],
      [
        serverError('42501', 'permission denied for schema public'),
        'postgres/permission_denied',
        /user "ada" may not create sluice's tables/,
        /ALTER DATABASE "sluice" OWNER TO "ada"/,
      ],
      [
        new CannotCreateDatabaseError('sluice', 'ada', {
          cause: serverError('42501', 'permission denied to create database'),
        }),
        'postgres/cannot_create_database',
        /user "ada" may not create the database "sluice"/,
        /CREATE DATABASE "sluice" OWNER "ada"/,
      ],
    ]
    for (const [error, code, problem, fix] of cases) {
      const failure = explain(error)
      expect(failure).toMatchObject({ code, exitCode: 1 })
      expect(failure.problem).toMatch(problem)
      expect(failure.fix).toMatch(fix)
      expect(failureText(failure, error, false)).not.toContain('secret')
    }
  })

  it('tells a data dir of a newer sluice from a database of one', () => {
    const newer = new NewerSchemaError('PostgreSQL', 9, 6)
    expect(explain(newer, embedded)).toMatchObject({
      code: 'schema/newer',
      problem:
        'the data dir /srv/sluice was written by a newer sluice (PostgreSQL schema version 9; this sluice knows up to 6)',
      fix: 'Run that newer sluice release (npm install sluice@latest), or point --data-dir (or SLUICE_DATA_DIR) elsewhere.',
    })
    expect(explain(newer).problem).toMatch(
      /^PostgreSQL at db.example:5432\/sluice was written by a newer sluice/,
    )
  })

  it('says how to stop waiting for nothing, and how to wait', () => {
    const cause = new Error('connect ECONNREFUSED')
    expect(
      explain(new GaveUpWaitingError('log', 'Kafka at k:9092', 0, 'connection refused', { cause })),
    ).toMatchObject({
      problem: 'cannot reach Kafka at k:9092 (connection refused)',
      fix: 'Start Kafka, or correct --kafka (or SLUICE_KAFKA_BROKERS); `--wait 60` waits up to a minute for it to come up.',
    })
    expect(
      explain(new GaveUpWaitingError('log', 'Kafka at k:9092', 60, 'connection refused', { cause })).fix,
    ).toMatch(/--wait sets how long sluice waits/)
  })

  it('answers a mistake in the options with exit 2, and the environment with exit 1', () => {
    expect(explain(new ConfigError('--port takes a port number')).exitCode).toBe(2)
    expect(explain(new DataDirError('/x', 'missing')).exitCode).toBe(2)
    expect(
      explain(
        new DataDirError('/x', 'not_accessible', {
          cause: Object.assign(new Error('EACCES'), { code: 'EACCES' }),
        }),
      ).exitCode,
    ).toBe(1)
    const listening = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:8000'), {
      code: 'EADDRINUSE',
      syscall: 'listen',
      address: '127.0.0.1',
      port: 8000,
    })
    expect(explain(listening)).toMatchObject({ code: 'http/port_in_use', exitCode: 1 })
  })

  it('tells a data dir held by a sluice still starting from one held by a running sluice', () => {
    const holder = { pid: 7, hostname: 'box', command: 'sluice start', startedAt: '2026-12-01T10:00:00Z' }
    expect(explain(new DataDirLockedError('/srv/sluice', holder), embedded)).toMatchObject({
      code: 'data_dir/in_use',
      exitCode: 2,
      problem:
        'the data dir /srv/sluice is in use by process 7 on box (`sluice start`, started 2026-12-01T10:00:00Z)',
      fix: 'It is still starting: run this again once it serves, or stop it first.',
    })
    const serving = { ...holder, url: 'http://127.0.0.1:8000' }
    expect(explain(new DataDirLockedError('/srv/sluice', serving), embedded).fix).toBe(
      'Stop that process first, or use another --data-dir (or SLUICE_DATA_DIR).',
    )
  })

  it('calls what it does not know unexpected, with its stack only when debugging', () => {
    const bug = new TypeError('Cannot read properties of undefined')
    const failure = explain(bug)
    expect(failure).toMatchObject({ code: 'unexpected', exitCode: 1 })
    expect(failure.problem).toBe('sluice start failed: Cannot read properties of undefined')
    expect(failureText(failure, bug, false)).not.toMatch(/\n\s+at /)
    expect(failureText(failure, bug, true)).toMatch(/\n\s+at /)
  })
})
