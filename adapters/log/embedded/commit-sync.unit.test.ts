import type { FileHandle } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { commitSyncs, inlineSyncMedianMaxMs, reprobeAfterMs, timedSyncs } from './commit-sync.ts'

/** A clock the syncs move: a sync on the thread takes `inlineTakes` ms of it. */
function fakeDisk() {
  const state = { clock: 0, inlineTakes: 0.2, calls: [] as string[] }
  const sync = commitSyncs({
    inline: () => {
      state.calls.push('inline')
      state.clock += state.inlineTakes
    },
    onPool: async () => {
      state.calls.push('pool')
    },
    now: () => state.clock,
  })
  const commits = async (count: number) => {
    state.calls.length = 0
    for (let i = 0; i < count; i++) await sync({} as FileHandle)
    return [...state.calls]
  }
  return Object.assign(state, { commits })
}

describe('where a commit syncs', () => {
  it('syncs on the writing thread while the disk is fast, whatever an odd slow sync took', async () => {
    const disk = fakeDisk()
    expect(await disk.commits(timedSyncs)).toEqual(Array(timedSyncs).fill('inline'))
    disk.inlineTakes = 20
    await disk.commits(3)
    disk.inlineTakes = 0.2
    expect(await disk.commits(40)).toEqual(Array(40).fill('inline'))
  })

  it('goes to the pool on a slow disk, timing one sync a second on the thread until it is fast again', async () => {
    const disk = fakeDisk()
    disk.inlineTakes = inlineSyncMedianMaxMs * 3
    // slow from the start: on the pool once 16 are timed
    const first = await disk.commits(timedSyncs + 5)
    expect(first.slice(0, timedSyncs)).toEqual(Array(timedSyncs).fill('inline'))
    expect(first.slice(timedSyncs)).toEqual(Array(5).fill('pool'))

    disk.clock += reprobeAfterMs
    expect(await disk.commits(3)).toEqual(['inline', 'pool', 'pool'])

    disk.inlineTakes = 0.2
    const recovered: string[] = []
    for (let second = 0; second < timedSyncs; second++) {
      disk.clock += reprobeAfterMs
      recovered.push(...(await disk.commits(2)))
    }
    // one timed a second until most of the last 16 were fast; then every sync is the thread's
    expect(recovered.slice(0, 2)).toEqual(['inline', 'pool'])
    expect(recovered.slice(-4)).toEqual(['inline', 'inline', 'inline', 'inline'])
  })
})
