import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { embeddedPaths } from './backends.ts'

export type DataDirProblem = 'missing' | 'not_a_directory' | 'not_a_data_dir' | 'not_accessible'

/** The data dir cannot be used as it is: what is wrong with it is `problem`. */
export class DataDirError extends Error {
  override readonly name = 'DataDirError'
  constructor(
    readonly dataDir: string,
    readonly problem: DataDirProblem,
    options: { cause?: unknown } = {},
  ) {
    super(`the data dir ${dataDir} cannot be used: ${problem}`, options)
  }
}

/**
 * Makes sure the data dir exists and is this user's to read and write before anything opens it. Only
 * `start` and `init` create one; every other command refuses a directory that does not exist or
 * holds nothing of sluice, rather than open empty databases in a mistyped path.
 */
export function prepareDataDir(dataDir: string, create: boolean): void {
  let isDirectory: boolean
  try {
    isDirectory = statSync(dataDir).isDirectory()
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw asDataDirError(dataDir, error)
    if (!create) throw new DataDirError(dataDir, 'missing')
    try {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 })
      return
    } catch (mkdirError) {
      throw asDataDirError(dataDir, mkdirError)
    }
  }
  if (!isDirectory) throw new DataDirError(dataDir, 'not_a_directory')
  try {
    accessSync(dataDir, constants.R_OK | constants.W_OK | constants.X_OK)
  } catch (error) {
    throw asDataDirError(dataDir, error)
  }
  const parts = [...Object.values(embeddedPaths(dataDir)), join(dataDir, 'sluice.lock')]
  if (!create && !parts.some((part) => existsSync(part))) throw new DataDirError(dataDir, 'not_a_data_dir')
}

/** A file-system failure on the data dir or anything in it, as a DataDirError when it is one. */
export function asDataDirError(dataDir: string, error: unknown): unknown {
  switch (errnoOf(error)) {
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new DataDirError(dataDir, 'not_accessible', { cause: error })
    case 'ENOTDIR':
    case 'EEXIST':
      return new DataDirError(dataDir, 'not_a_directory', { cause: error })
    default:
      return error
  }
}

const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException | null)?.code
