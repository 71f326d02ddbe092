import { logFieldsOf } from '../../ports/failures.ts'
import type { IdentityStore, IdentityTransaction, OutboxRecord } from '../../ports/identity-store.ts'
import type { Log } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'

type PublishDeps = { log: Log; identities: IdentityStore }

/**
 * Publishes committed outbox entries to the fact topics in the background, in commit order, so
 * that appending a batch's facts overlaps with applying the next batch. Published entries are
 * deleted by the next batch's transaction (`takePublished`), which saves a commit per batch.
 *
 * Nothing is lost when a publish fails or the process dies: the entry stays in the outbox, and
 * `flushOutbox` publishes it again (facts are idempotent: events by uuid, rows by version).
 */
export interface FactPublisher {
  /**
   * Runs `work` in one identity transaction that also deletes the entries published since the
   * last one — after a failed publish has been made good, so entries go out in commit order.
   */
  transaction<T>(work: (tx: IdentityTransaction) => Promise<T>): Promise<T>
  /** Queues a committed entry; resolves once the entry two before it is published, which bounds the queue. */
  publish(outboxId: string, records: readonly OutboxRecord[]): Promise<void>
  /** Waits for every queued entry, recovers from a failed publish, and deletes what was published. */
  drain(): Promise<void>
}

export function createFactPublisher(deps: PublishDeps & { logger: Logger }): FactPublisher {
  let tail: Promise<void> = Promise.resolve()
  // the entry queued before the last one: a batch waits for it, so at most two are on their way
  let beforeTail: Promise<void> = Promise.resolve()
  let failed = false
  let recovering: Promise<void> | null = null
  let published: string[] = []

  // one recovery at a time, however many partitions ask for it
  const recover = () => {
    if (!failed) return Promise.resolve()
    recovering ??= (async () => {
      await tail
      await flushOutbox(deps)
      failed = false
    })().finally(() => {
      recovering = null
    })
    return recovering
  }

  return {
    async transaction(work) {
      await recover()
      const deletable = published
      published = []
      try {
        return await deps.identities.transaction(async (tx) => {
          await tx.deleteOutbox(deletable)
          return work(tx)
        })
      } catch (error) {
        published = [...deletable, ...published]
        throw error
      }
    },
    publish(outboxId, records) {
      const previous = tail
      const waitFor = beforeTail
      beforeTail = previous
      tail = previous.then(async () => {
        // after a failure, later entries wait in the outbox so that recovery publishes them in order
        if (failed) return
        try {
          await appendRecords(deps.log, records)
          published.push(outboxId)
        } catch (error) {
          failed = true
          deps.logger.warn(
            { ...logFieldsOf(error), outboxId },
            'publishing facts failed: they wait in the outbox and go out before the next batch',
          )
        }
      })
      return waitFor
    },
    async drain() {
      await tail
      await recover()
      const ids = published
      published = []
      await deps.identities.deleteOutbox(ids)
    },
  }
}

async function appendRecords(log: Log, records: readonly OutboxRecord[]): Promise<void> {
  const byTopic = new Map<string, OutboxRecord[]>()
  for (const record of records) {
    const list = byTopic.get(record.topic)
    if (list) list.push(record)
    else byTopic.set(record.topic, [record])
  }
  await Promise.all(
    [...byTopic].map(([topic, list]) =>
      log.append(
        topic,
        list.map(({ key, value }) => ({ key, value })),
      ),
    ),
  )
}

/**
 * Publishes, in commit order, what was committed but not published (by a crashed process, or a
 * failed publish); with `olderThanSeconds`, only entries that old — younger ones are still on
 * their way with the process that committed them.
 */
export async function flushOutbox(deps: PublishDeps, olderThanSeconds?: number): Promise<number> {
  let published = 0
  for (;;) {
    const pending = await deps.identities.pendingOutbox(100, olderThanSeconds)
    if (pending.length === 0) return published
    for (const entry of pending) {
      await appendRecords(deps.log, entry.records)
      await deps.identities.deleteOutbox([entry.id])
      published++
    }
  }
}

/**
 * Every few seconds, publishes the outbox entries a process committed and then never published —
 * it was killed, or lost its partitions — so their facts do not wait for that process to start
 * again. An entry published twice is harmless (events are deduplicated by uuid, rows by version).
 */
export function startOutboxSweeper(
  deps: PublishDeps & { logger: Logger },
  options: { everyMs: number; olderThanSeconds: number } = { everyMs: 5000, olderThanSeconds: 15 },
): { stop(): Promise<void> } {
  let sweeping: Promise<void> | null = null
  const timer = setInterval(() => {
    sweeping ??= flushOutbox(deps, options.olderThanSeconds)
      .then((published) => {
        if (published > 0)
          deps.logger.info({ published }, 'published outbox entries another process left behind')
      })
      .catch((error: unknown) =>
        deps.logger.warn(logFieldsOf(error), 'sweeping the outbox failed; trying again'),
      )
      .finally(() => {
        sweeping = null
      })
  }, options.everyMs)
  timer.unref()
  return {
    async stop() {
      clearInterval(timer)
      await sweeping
    },
  }
}
