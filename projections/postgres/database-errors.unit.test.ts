import { describe, expect, it } from 'vitest'
import { classifyDatabaseError, type DatabaseFailure, sqlStateOf } from './database-errors.ts'

const withCode = (code: string, message = 'failed') => Object.assign(new Error(message), { code })

describe('what a failed statement means', () => {
  it.each<[string, unknown, DatabaseFailure]>([
    ['a deadlock', withCode('40P01'), 'conflict'],
    ['a serialization failure', withCode('40001'), 'conflict'],
    ['a row another writer created first', withCode('23505'), 'conflict'],
    ['a lock not granted', withCode('55P03'), 'conflict'],
    ['a foreign key the rows violate', withCode('23503'), 'refused'],
    ['a check the rows violate', withCode('23514'), 'refused'],
    ['a null where none may be', withCode('23502'), 'refused'],
    ['text jsonb cannot hold', withCode('22P05'), 'refused'],
    ['a value out of range', withCode('22003'), 'refused'],
    ['a row too big', withCode('54000'), 'refused'],
    ['a connection that broke', withCode('08006'), 'unavailable'],
    ['a server shutting down', withCode('57P01'), 'unavailable'],
    ['a server starting up', withCode('57P03'), 'unavailable'],
    ['a full disk', withCode('53100'), 'unavailable'],
    ['too many connections', withCode('53300'), 'unavailable'],
    ['an I/O error', withCode('58030'), 'unavailable'],
    ['a refused connection', withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'), 'unavailable'],
    ['a broken pipe (an errno, not a SQLSTATE)', withCode('EPIPE'), 'unavailable'],
    ['a connection pg lost', new Error('Connection terminated unexpectedly'), 'unavailable'],
    ['a syntax error (a defect of ours)', withCode('42601'), 'other'],
    ['an error without a code', new TypeError('x is undefined'), 'other'],
    ['a wrapped refusal', new Error('wrapped', { cause: withCode('23503') }), 'refused'],
    ['a wrapped connection loss', new Error('wrapped', { cause: withCode('ECONNRESET') }), 'unavailable'],
  ])('%s is a %s… failure', (_what, error, kind) => {
    expect(classifyDatabaseError(error)).toBe(kind)
  })

  it('reads the SQLSTATE through wrapping errors, never an errno', () => {
    expect(sqlStateOf(new Error('outer', { cause: withCode('23503') }))).toBe('23503')
    expect(sqlStateOf(withCode('EPIPE'))).toBeUndefined()
    expect(sqlStateOf('not an error')).toBeUndefined()
  })
})
