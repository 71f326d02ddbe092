import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { atProcessEnd } from './process-end.ts'

export interface LockHolder {
  pid: number
  hostname: string
  command: string
  startedAt: string
  url?: string
  /**
   * Lets the sluice CLI on this machine act through the holder (status, dead letters) while it holds
   * the data dir. The lock file is readable by its owner only, like everything the data dir holds.
   */
  controlToken?: string
}

export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError'
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
  ) {
    super(
      `The data dir ${dataDir} is in use by process ${holder.pid} on ${holder.hostname} ` +
        `(\`${holder.command}\`, started ${holder.startedAt}${holder.url ? `, serving ${holder.url}` : ''}). ` +
        'Stop that process first, or use another --data-dir.',
    )
  }
}

export interface DataDirLock {
  readonly path: string
  readonly controlToken: string
  /** Records where the holder serves, for the message a second process gets and for the CLI. */
  setUrl(url: string): void
  release(): void
}

/**
 * Exclusive use of a data dir: PGlite, chDB and the embedded log each assume a single process.
 * The lock file names its holder; a lock left by a process that no longer runs is taken over.
 */
export function lockDataDir(dataDir: string, command: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true })
  const path = join(dataDir, 'sluice.lock')
  const controlToken = randomBytes(24).toString('base64url')
  const holder: LockHolder = {
    pid: process.pid,
    hostname: hostname(),
    command,
    startedAt: new Date().toISOString(),
    controlToken,
  }
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, JSON.stringify(holder), { flag: 'wx', mode: 0o600 })
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2) throw error
      const current = readHolder(path)
      if (current && isAlive(current)) throw new DataDirLockedError(dataDir, current)
      try {
        unlinkSync(path)
      } catch {
        // another process took it over first; the next attempt will see its lock
      }
    }
  }
  let released = false
  const release = () => {
    if (released) return
    released = true
    const current = readHolder(path)
    if (current?.pid === process.pid) unlinkSync(path)
  }
  atProcessEnd(release)
  return {
    path,
    controlToken,
    setUrl(url) {
      holder.url = url
      writeFileSync(path, JSON.stringify(holder))
    },
    release,
  }
}

/** The live process holding a data dir, if one does. */
export function dataDirHolder(dataDir: string): LockHolder | undefined {
  const holder = readHolder(join(dataDir, 'sluice.lock'))
  return holder && isAlive(holder) ? holder : undefined
}

function readHolder(path: string): LockHolder | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockHolder
  } catch {
    return undefined
  }
}

function isAlive(holder: LockHolder): boolean {
  if (holder.hostname !== hostname()) return true
  try {
    process.kill(holder.pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
