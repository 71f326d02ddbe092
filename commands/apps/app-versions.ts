import type { AppStore } from '../../ports/apps.ts'
import type { AppliedBatch } from '../../ports/identity-store.ts'
import type { LogBatch } from '../../ports/log.ts'
import type { AppRunRecord, AppVersion, RecordedAppFailure } from '../../schema/apps.ts'
import type { EnabledApps } from './enabled-apps.ts'

/**
 * Which app versions run on a batch. Ingesting, the enabled ones of each project now, and what ran
 * is recorded with the batch. Replaying a range that was ingested before, exactly what ran then —
 * none where no app ran — and the failures then are repeated rather than run again.
 */
export interface AppVersionSource {
  forBatch(batch: LogBatch): Promise<BatchAppVersions>
}

export type BatchAppVersions =
  | { recorded: false; ofTeam(teamId: number): Promise<AppVersion[]> }
  | {
      recorded: true
      ofTeam(teamId: number): Promise<AppVersion[]>
      failureOf(offset: number, appId: number): RecordedAppFailure | undefined
    }

export function currentAppVersions(enabled: EnabledApps): AppVersionSource {
  const batch: BatchAppVersions = { recorded: false, ofTeam: (teamId) => enabled.forTeam(teamId) }
  return { forBatch: async () => batch }
}

/**
 * For `sluice replay`: `applied` are the ranges ingested before (read before the replay emptied
 * them), `records` what was recorded of them. A range no batch covered is ingested for the first
 * time, with the current apps.
 */
export function recordedAppVersions(deps: {
  store: AppStore
  applied: readonly AppliedBatch[]
  records: readonly AppRunRecord[]
  current: AppVersionSource
}): AppVersionSource {
  const versions = new Map<string, Promise<AppVersion | undefined>>()
  const versionOf = (appId: number, version: number) => {
    const key = `${appId}:${version}`
    let found = versions.get(key)
    if (found === undefined) {
      found = deps.store.versions([{ appId, version }]).then((rows) => rows[0])
      versions.set(key, found)
    }
    return found
  }
  const applied = rangeIndex(deps.applied)
  const records = rangeIndex(deps.records)

  return {
    async forBatch(batch) {
      const first = batch.messages[0]?.offset ?? 0
      if (!applied(batch.topic, batch.partition, first)) return deps.current.forBatch(batch)
      const record = records(batch.topic, batch.partition, first)
      const failures = new Map((record?.failures ?? []).map((f) => [`${f.offset}:${f.appId}`, f]))
      return {
        recorded: true,
        async ofTeam(teamId) {
          const keys = record?.runs.find((run) => run.teamId === teamId)?.apps ?? []
          const found = await Promise.all(keys.map((key) => versionOf(key.appId, key.version)))
          return found.filter((version): version is AppVersion => version !== undefined)
        },
        failureOf: (offset, appId) => failures.get(`${offset}:${appId}`),
      }
    },
  }
}

interface Range {
  topic: string
  partition: number
  firstOffset: number
  nextOffset: number
}

/** Finds the range holding an offset of a partition, by binary search (ranges of a partition never overlap). */
function rangeIndex<T extends Range>(
  ranges: readonly T[],
): (topic: string, partition: number, offset: number) => T | undefined {
  const byPartition = new Map<string, T[]>()
  for (const range of ranges) {
    const key = `${range.topic}:${range.partition}`
    const list = byPartition.get(key) ?? []
    list.push(range)
    byPartition.set(key, list)
  }
  for (const list of byPartition.values()) list.sort((a, b) => a.firstOffset - b.firstOffset)
  return (topic, partition, offset) => {
    const list = byPartition.get(`${topic}:${partition}`) ?? []
    let low = 0
    let high = list.length - 1
    while (low <= high) {
      const middle = (low + high) >> 1
      const range = list[middle]!
      if (offset < range.firstOffset) high = middle - 1
      else if (offset >= range.nextOffset) low = middle + 1
      else return range
    }
    return undefined
  }
}
