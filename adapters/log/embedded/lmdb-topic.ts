import { open, type RootDatabase } from 'lmdb'
import type { LogMessage, LogRecord } from '../../../ports/log.ts'
import type { TopicStorage } from './topic-storage.ts'

/** Where a record batch starts: like Kafka, the records of one append to a partition are stored together. */
export type BatchKey = [partition: number, baseOffset: number]
export interface StoredBatch {
  timestamp: number
  records: LogRecord[]
}
export type TopicBatches = RootDatabase<StoredBatch, BatchKey>

const lastOffset = Number.MAX_SAFE_INTEGER

export function openTopicBatches(path: string): TopicBatches {
  return open<StoredBatch, BatchKey>({
    path,
    compression: false,
    // each put's own transaction's sync (see append), not whatever the env committed since
    separateFlushed: true,
  })
}

/**
 * A topic in an LMDB environment of its own, its batches keyed by partition and base offset.
 * Appends queued in the same event turn share one transaction and one sync (lmdb-js's batching).
 * Offsets are assigned in memory, by the topic's one writer.
 */
export function lmdbTopic(topic: string, batches: TopicBatches): TopicStorage {
  const nextOffsets = new Map<number, number>()

  /**
   * Reads the topic and lets its snapshot go at once. A read snapshot keeps every page the topic's
   * writer frees after it from being reused, and lmdb-js holds one until the thread's next timer
   * phase, which a busy main thread (SCHED_IDLE under load) reaches late: LMDB's free list then grew
   * until the integrity check lmdb-js runs on it at every commit took near half of libuv's pool,
   * where every topic's commits run (perf, `sluice start` under 50-event batches).
   */
  const fromSnapshot = <T>(read: () => T): T => {
    try {
      return read()
    } finally {
      batches.resetReadTxn()
    }
  }
  const end = (partition: number): number =>
    fromSnapshot(() => {
      for (const { key, value } of batches.getRange({
        start: [partition, lastOffset],
        end: [partition, -1],
        reverse: true,
        limit: 1,
      })) {
        return key[1] + value.records.length
      }
      return 0
    })

  return {
    async append(byPartition, timestamp) {
      const writes: FlushedWrite[] = []
      for (const [partition, records] of byPartition) {
        const baseOffset = nextOffsets.get(partition) ?? end(partition)
        nextOffsets.set(partition, baseOffset + records.length)
        writes.push(batches.put([partition, baseOffset], { timestamp, records }))
      }
      try {
        await durable(writes)
        // The sync of the transaction holding these records: the env's `flushed` would also wait
        // for transactions begun since, which under load adds a commit to every append.
        await Promise.all(writes.map((write) => write.flushed))
      } catch (error) {
        // A failed commit leaves offsets in memory that never reached disk: recount from disk.
        nextOffsets.clear()
        throw error
      }
    },
    end,
    read: (partition, fromOffset, maxMessages) =>
      fromSnapshot((): LogMessage[] => {
        const result: LogMessage[] = []
        // the batch holding fromOffset starts at or before it
        let start = fromOffset
        for (const key of batches.getKeys({
          start: [partition, fromOffset],
          end: [partition, -1],
          reverse: true,
          limit: 1,
        })) {
          start = key[1]
        }
        for (const { key, value } of batches.getRange({
          start: [partition, start],
          end: [partition, lastOffset],
        })) {
          const baseOffset = key[1]
          for (let i = Math.max(0, fromOffset - baseOffset); i < value.records.length; i++) {
            result.push({
              topic,
              partition,
              offset: baseOffset + i,
              timestamp: value.timestamp,
              ...value.records[i]!,
            })
            if (result.length >= maxMessages) return result
          }
        }
        return result
      }),
    // the environment is the log's, which closes it
    close: async () => {},
  }
}

/** A put into an env opened with `separateFlushed`: `flushed` settles once its transaction is synced. */
type FlushedWrite = Promise<boolean> & { flushed?: Promise<boolean> }

/**
 * Waits for every write of a transaction, and fails with the reason LMDB gives when its commit
 * failed (a full disk, an I/O error). LMDB rejects each write of a failed commit and keeps the
 * reason in a promise of its own: every one of them is handled here, so a failed commit is an
 * error for the caller to handle — never an unhandled rejection that takes the process down.
 */
export async function durable(writes: readonly Promise<boolean>[]): Promise<void> {
  const settled = await Promise.allSettled(writes)
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
  if (failed === undefined) return
  const commitError = (failed.reason as { commitError?: Promise<never> } | null)?.commitError
  for (const s of settled)
    if (s.status === 'rejected')
      (s.reason as { commitError?: Promise<never> } | null)?.commitError?.catch(() => {})
  const reason = commitError ? await commitError.catch((error: unknown) => error) : failed.reason
  throw reason
}
