import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createEmbeddedLog } from '../../adapters/log/embedded/embedded-log.ts'
import type { Log, LogMessage, LogRecord } from '../../ports/log.ts'
import type { Logger } from '../../ports/logger.ts'
import { Topics } from '../../schema/topics.ts'
import { captureRequestRecords } from './capture-request.ts'
import { decodeCaptureRequest } from './decode-request.ts'
import { createRequestSplitter } from './split-requests.ts'
import { batchBody, request, testContext, testToken } from './testing/capture-helpers.ts'

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} }
const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

async function openLog(): Promise<Log> {
  const path = mkdtempSync(join(tmpdir(), 'sluice-split-'))
  dirs.push(path)
  const log = createEmbeddedLog({ path })
  await log.ensureTopics([
    { name: Topics.commands, partitions: 3, retention: 'forever' },
    { name: Topics.deadLetters, partitions: 1, retention: 'forever' },
  ])
  return log
}

/** A request record of `events` events from the users named, as capture appends it. */
function requestRecord(users: readonly string[], first: number): LogRecord {
  const events = users.map((user, i) => ({ event: 'step', distinct_id: user, properties: { n: first + i } }))
  const decoded = decodeCaptureRequest(request({ path: '/batch/', body: batchBody(events) }))
  const [record] = captureRequestRecords(decoded, testContext())
  return record!
}

const asMessages = (records: LogRecord[]): LogMessage[] =>
  records.map((record, offset) => ({
    ...record,
    topic: Topics.captureRequests,
    partition: 0,
    offset,
    timestamp: 0,
  }))

async function readAll(log: Log, topic: string, partitions: number): Promise<LogMessage[]> {
  const all: LogMessage[] = []
  for (let partition = 0; partition < partitions; partition++)
    all.push(...(await log.read(topic, partition, 0, 100_000)))
  return all
}

describe('the split', () => {
  it('writes a batch of large requests in appends of bounded size, keeping each person’s order', async () => {
    const log = await openLog()
    const appended: number[] = []
    const counting: Log = {
      ...log,
      append: (topic, records) => {
        if (topic === Topics.commands) appended.push(records.length)
        return log.append(topic, records)
      },
    }
    const users = ['ada', 'bo', 'cy', 'di']
    const requests = Array.from({ length: 6 }, (_, r) =>
      requestRecord(
        Array.from({ length: 40 }, (_, i) => users[(r + i) % users.length]!),
        r * 40,
      ),
    )
    const told: [number, number][] = []
    const split = createRequestSplitter({
      log: counting,
      logger: quiet,
      now: () => new Date(0),
      maxCommandsPerAppend: 100,
      onSplit: (requestCount, commands) => told.push([requestCount, commands]),
    })
    await split({ topic: Topics.captureRequests, partition: 0, messages: asMessages(requests) })

    expect(appended).toEqual([120, 120])
    expect(told).toEqual([[6, 240]])
    const commands = await readAll(log, Topics.commands, 3)
    expect(commands).toHaveLength(240)
    for (const user of users) {
      const numbers = commands
        .filter((c) => c.key === `${testToken}:${user}`)
        .map((c) => (JSON.parse(JSON.parse(c.value).data) as { properties: { n: number } }).properties.n)
      expect(numbers).toHaveLength(60)
      expect(numbers).toEqual([...numbers].sort((a, b) => a - b))
    }
    await log.close()
  })

  it('sets an unreadable record aside and writes the others', async () => {
    const log = await openLog()
    const split = createRequestSplitter({
      log,
      logger: quiet,
      now: () => new Date(0),
      maxCommandsPerAppend: 2,
    })
    const records = [requestRecord(['ada', 'bo', 'cy'], 0), { key: testToken, value: 'not a request' }]
    await split({ topic: Topics.captureRequests, partition: 0, messages: asMessages(records) })

    expect(await readAll(log, Topics.commands, 3)).toHaveLength(3)
    const [letter] = await log.read(Topics.deadLetters, 0, 0, 10)
    expect(JSON.parse(letter!.value)).toMatchObject({ step: 'split', code: 'request_unreadable', offset: 1 })
    await log.close()
  })
})
