import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DataDirLockedError, lockDataDir } from './data-dir-lock.ts'

describe('data dir lock', () => {
  it('refuses a second holder, naming the first, and frees the dir on release', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-lock-'))
    const lock = lockDataDir(dir, 'sluice start')
    try {
      expect(() => lockDataDir(dir, 'sluice replay')).toThrow(DataDirLockedError)
      expect(() => lockDataDir(dir, 'sluice replay')).toThrow(
        new RegExp(`process ${process.pid} .*sluice start`),
      )
    } finally {
      lock.release()
    }
    expect(existsSync(lock.path)).toBe(false)
    lockDataDir(dir, 'sluice start').release()
  })

  it('takes over a lock whose process no longer runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-lock-'))
    const child = spawn(process.execPath, ['-e', ''])
    const pid = child.pid
    await new Promise((resolve) => child.once('exit', resolve))
    writeFileSync(
      join(dir, 'sluice.lock'),
      JSON.stringify({
        pid,
        hostname: (await import('node:os')).hostname(),
        command: 'sluice start',
        startedAt: '2026-01-01T00:00:00Z',
      }),
    )
    const lock = lockDataDir(dir, 'sluice start')
    lock.release()
  })
})
