import { fdatasyncSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'

/** Syncs on the writing thread while the median of the last few timed there is at most this. */
export const inlineSyncMedianMaxMs = 1
/** How many of the last syncs on the writing thread the median is taken of. */
export const timedSyncs = 16
/** How long syncs stay on the pool before one is timed on the writing thread again. */
export const reprobeAfterMs = 1000

export interface CommitSyncDeps {
  /** fdatasync on the calling thread. */
  inline(handle: FileHandle): void
  /** fdatasync on libuv's pool. */
  onPool(handle: FileHandle): Promise<void>
  now(): number
}

const realSyncs: CommitSyncDeps = {
  inline: (handle) => fdatasyncSync(handle.fd),
  onPool: (handle) => handle.datasync(),
  now: () => performance.now(),
}

/**
 * Where a commit's fdatasync runs. On libuv's pool it costs the writing thread two wakeups (the
 * pool thread's, then its own when the sync is done), and under load each can wait for a core: with
 * 50-event batches in `sluice start`, capture's thread waited for one 0.17 of the time, and 0.07
 * with its syncs its own (18 % more requests a second, docs/benchmarks.md). But a sync on the
 * writing thread holds it for as long as the disk takes, and the requests that arrive meanwhile
 * wait: fine at a few tenths of a millisecond, not at the several milliseconds many cloud disks
 * take. So syncs run on the writing thread while the median of the last 16 timed there is at most
 * 1 ms — the odd slow one (a journal commit, 5–11 ms here now and then) does not move it — and on
 * the pool otherwise, where one a second is still timed on the thread so that a disk that got fast
 * again is seen.
 */
export function commitSyncs(deps: CommitSyncDeps = realSyncs): (handle: FileHandle) => Promise<void> {
  const durations: number[] = []
  let lastTimed = Number.NEGATIVE_INFINITY
  const fast = () => {
    if (durations.length < timedSyncs) return true
    const sorted = [...durations].sort((a, b) => a - b)
    return sorted[timedSyncs >> 1]! <= inlineSyncMedianMaxMs
  }
  let inline = true
  return async (handle) => {
    const started = deps.now()
    if (!inline && started - lastTimed < reprobeAfterMs) return deps.onPool(handle)
    deps.inline(handle)
    lastTimed = started
    durations.push(deps.now() - started)
    if (durations.length > timedSyncs) durations.shift()
    inline = fast()
  }
}
