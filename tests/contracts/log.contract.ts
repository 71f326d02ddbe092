import { afterEach, describe, expect, it } from 'vitest'
import type { Log, LogBatch, LogMessage } from '../../ports/log.ts'

export interface LogFixture {
  log: Log
  /** Closes the log and opens it again (a new process would): what was appended must still be there. */
  reopen: () => Promise<Log>
  close(): Promise<void>
}

/** What every log adapter — the embedded LMDB log and Kafka — must do. */
export function logContract(name: string, makeLog: () => Promise<LogFixture | null>) {
  describe(`log contract: ${name}`, () => {
    const open: LogFixture[] = []
    afterEach(async () => {
      await Promise.all(open.splice(0).map((f) => f.close()))
    })
    const test = (title: string, body: (fixture: LogFixture, topic: string) => Promise<void>) =>
      it(title, async (ctx) => {
        const fixture = await makeLog()
        if (fixture === null) return ctx.skip()
        open.push(fixture)
        const topic = `contract_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`
        await fixture.log.ensureTopics([{ name: topic, partitions: 3, retention: 'forever' }])
        await body(fixture, topic)
      })

    test('records of one key keep their order on one partition, with offsets from 0', async ({
      log,
    }, topic) => {
      await log.append(
        topic,
        [1, 2, 3].map((i) => ({ key: 'phc_a:user-1', value: `v${i}` })),
      )
      await log.append(topic, [{ key: 'phc_a:user-1', value: 'v4' }])
      const ends = await log.endOffsets(topic)
      const partition = [...ends].find(([, end]) => end > 0)![0]
      expect([...ends.values()].reduce((a, b) => a + b, 0)).toBe(4)
      const messages = await log.read(topic, partition, 0, 10)
      expect(messages.map((m) => [m.offset, m.value, m.key])).toEqual([
        [0, 'v1', 'phc_a:user-1'],
        [1, 'v2', 'phc_a:user-1'],
        [2, 'v3', 'phc_a:user-1'],
        [3, 'v4', 'phc_a:user-1'],
      ])
      expect(await log.read(topic, partition, 2, 1)).toHaveLength(1)
    })

    test('reads start and stop anywhere, within and across appends', async ({ log }, topic) => {
      const values = (from: number, count: number) =>
        Array.from({ length: count }, (_, i) => ({ key: 'one-key', value: `v${from + i}` }))
      await log.append(topic, values(0, 5))
      await log.append(topic, values(5, 5))
      await log.append(topic, values(10, 1))
      const [partition] = [...(await log.endOffsets(topic))].find(([, end]) => end > 0)!
      const read = async (from: number, max: number) =>
        (await log.read(topic, partition, from, max)).map((m) => [m.offset, m.value])
      expect(await read(3, 4)).toEqual([3, 4, 5, 6].map((o) => [o, `v${o}`]))
      expect(await read(5, 1)).toEqual([[5, 'v5']])
      expect(await read(9, 100)).toEqual([9, 10].map((o) => [o, `v${o}`]))
      expect(await read(11, 10)).toEqual([])
    })

    test('null keys, empty values, any text and headers come back as appended', async ({ log }, topic) => {
      const records = [
        { key: null, value: 'zürich € 😀 \u0000 "quoted"' },
        { key: 'k:ü', value: '' },
        { key: 'k:ü', value: '{"a":1}', headers: { source: 'test', 'x-ünïcode': 'ß' } },
      ]
      await log.append(topic, records)
      const read: { key: string | null; value: string; headers?: Record<string, string> }[] = []
      for (const [partition, end] of await log.endOffsets(topic))
        for (const message of await log.read(topic, partition, 0, end))
          read.push({
            key: message.key,
            value: message.value,
            ...(message.headers && Object.keys(message.headers).length > 0
              ? { headers: message.headers }
              : {}),
          })
      const order = (r: { value: string }) => records.findIndex((x) => x.value === r.value)
      expect(read.sort((a, b) => order(a) - order(b))).toEqual(records)
    })

    test('concurrent appends all land exactly once with gap-free offsets', async ({ log }, topic) => {
      const appends = Array.from({ length: 40 }, (_, i) =>
        log.append(
          topic,
          Array.from({ length: 5 }, (_, j) => ({ key: `k${(i * 5 + j) % 7}`, value: `${i}-${j}` })),
        ),
      )
      await Promise.all(appends)
      const seen: string[] = []
      for (const [partition, end] of await log.endOffsets(topic)) {
        const messages = await log.read(topic, partition, 0, 1000)
        expect(messages.map((m) => m.offset)).toEqual(Array.from({ length: end }, (_, i) => i))
        seen.push(...messages.map((m) => m.value))
      }
      expect(seen.sort()).toEqual(
        Array.from({ length: 200 }, (_, n) => `${Math.floor(n / 5)}-${n % 5}`).sort(),
      )
    })

    test('appended records survive closing and reopening the log', async (fixture, topic) => {
      await fixture.log.append(topic, [{ key: 'durable', value: 'kept' }])
      const reopened = await fixture.reopen()
      const total = [...(await reopened.endOffsets(topic)).values()].reduce((a, b) => a + b, 0)
      expect(total).toBe(1)
      await reopened.append(topic, [{ key: 'durable', value: 'after' }])
      const [partition] = [...(await reopened.endOffsets(topic))].find(([, end]) => end > 0)!
      expect((await reopened.read(topic, partition, 0, 10)).map((m) => m.value)).toEqual(['kept', 'after'])
      fixture.log = reopened
    })

    test('a consumer group resumes after its committed offset', async ({ log }, topic) => {
      await log.append(
        topic,
        ['a', 'b', 'c'].map((value) => ({ key: 'same', value })),
      )
      const first = await consumeUntil(log, { groupId: 'g1', topic }, 3)
      expect(first.map((m) => m.value)).toEqual(['a', 'b', 'c'])
      await log.append(topic, [{ key: 'same', value: 'd' }])
      const second = await consumeUntil(log, { groupId: 'g1', topic }, 1)
      expect(second.map((m) => m.value)).toEqual(['d'])
      const committed = await log.committedOffsets('g1', topic)
      expect([...committed.values()]).toContain(4)
      // another group starts from the beginning, independently
      const other = await consumeUntil(log, { groupId: 'g2', topic }, 4)
      expect(other.map((m) => m.value)).toEqual(['a', 'b', 'c', 'd'])
    })

    test('committed offsets can be set for a group that is not consuming', async ({ log }, topic) => {
      await log.append(
        topic,
        ['a', 'b', 'c'].map((value) => ({ key: 'same', value })),
      )
      const [partition] = [...(await log.endOffsets(topic))].find(([, end]) => end > 0)!
      await log.commitOffsets('g5', topic, new Map([[partition, 2]]))
      expect((await log.committedOffsets('g5', topic)).get(partition)).toBe(2)
      const rest = await consumeUntil(log, { groupId: 'g5', topic }, 1)
      expect(rest.map((m) => m.value)).toEqual(['c'])
    })

    test('startOffset overrides the committed offset', async ({ log }, topic) => {
      await log.append(
        topic,
        ['a', 'b', 'c'].map((value) => ({ key: 'same', value })),
      )
      const fromTwo = await consumeUntil(log, { groupId: 'g3', topic, startOffset: async () => 2 }, 1)
      expect(fromTwo.map((m) => m.value)).toEqual(['c'])
    })

    test('a start position that cannot be had is asked again, told as a problem until it is had', async ({
      log,
    }, topic) => {
      await log.append(topic, [{ key: 'same', value: 'a' }])
      let failuresLeft = 1
      const problems: (string | null)[] = []
      const delivered: string[] = []
      await new Promise<void>((resolve, reject) => {
        const subscription = log.subscribe({
          groupId: 'g-start',
          topics: [topic],
          maxBatchSize: 10,
          startOffset: async () => {
            if (failuresLeft-- > 0) throw new Error('the offsets store is away')
            return undefined
          },
          onConsumerProblem: (problem) => problems.push(problem === null ? null : (problem as Error).message),
          eachBatch: async (batch: LogBatch) => {
            delivered.push(...batch.messages.map((m) => m.value))
          },
        })
        const waiting = setInterval(() => {
          // every partition has found its start once the problem is over
          if (delivered.length > 0 && problems.at(-1) === null) {
            clearInterval(waiting)
            subscription.stop().then(resolve, reject)
          }
        }, 20)
      })
      // at least once: a member that rejoins may be handed what it had not committed yet
      expect(new Set(delivered)).toEqual(new Set(['a']))
      expect(problems).toContain('the offsets store is away')
      expect(problems.at(-1)).toBeNull()
    })

    test('a busy partition gathers: its next batch waits in proportion to the last one, up to a limit', async ({
      log,
    }, topic) => {
      const gather = { perMessageMs: 100, maxMs: 400 }
      const handedOver: { at: number; size: number }[] = []
      await log.append(
        topic,
        ['a', 'b'].map((value) => ({ key: 'same', value })),
      )
      await new Promise<void>((resolve, reject) => {
        const subscription = log.subscribe({
          groupId: 'g-gather',
          topics: [topic],
          maxBatchSize: 100,
          gather,
          eachBatch: async (batch: LogBatch) => {
            handedOver.push({ at: performance.now(), size: batch.messages.length })
            // these arrive while the partition gathers
            if (handedOver.length === 1)
              await log.append(
                topic,
                ['c', 'd', 'e', 'f', 'g'].map((value) => ({ key: 'same', value })),
              )
            if (handedOver.reduce((n, b) => n + b.size, 0) >= 7) subscription.stop().then(resolve, reject)
          },
        })
      })
      expect(handedOver.map((b) => b.size)).toEqual([2, 5])
      const [first, second] = handedOver
      expect(second!.at - first!.at).toBeGreaterThanOrEqual(2 * gather.perMessageMs - 10)
      // and then it is read again, not left waiting
      expect(second!.at - first!.at).toBeLessThan(2 * gather.perMessageMs + 1000)
    })

    test('a batch whose handler fails is handed over again, never skipped', async ({ log }, topic) => {
      await log.append(
        topic,
        ['a', 'b'].map((value) => ({ key: 'same', value })),
      )
      let failuresLeft = 2
      const delivered: string[] = []
      await new Promise<void>((resolve, reject) => {
        const subscription = log.subscribe({
          groupId: 'g4',
          topics: [topic],
          maxBatchSize: 10,
          eachBatch: async (batch: LogBatch) => {
            if (failuresLeft-- > 0) throw new Error('transient failure')
            delivered.push(...batch.messages.map((m) => m.value))
            if (delivered.length >= 2) subscription.stop().then(resolve, reject)
          },
        })
      })
      expect(delivered).toEqual(['a', 'b'])
    })
  })
}

async function consumeUntil(
  log: Log,
  options: { groupId: string; topic: string; startOffset?: () => Promise<number | undefined> },
  count: number,
): Promise<LogMessage[]> {
  const received: LogMessage[] = []
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`received only ${received.length} of ${count}`)), 30_000)
    const subscription = log.subscribe({
      groupId: options.groupId,
      topics: [options.topic],
      maxBatchSize: 100,
      startOffset: options.startOffset,
      eachBatch: async (batch) => {
        received.push(...batch.messages)
        if (received.length >= count) {
          clearTimeout(timer)
          // stop after this batch is committed
          setImmediate(() => subscription.stop().then(resolve, reject))
        }
      },
    })
  })
  return received.sort((a, b) => a.partition - b.partition || a.offset - b.offset)
}
