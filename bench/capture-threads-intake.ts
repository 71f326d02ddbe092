/**
 * Capture's work on a request with nothing around it — decode, check, build its record, append it
 * durably to the embedded log in segment files, as `sluice start` does — for the designs that
 * bench/capture-threads.ts spreads across threads.
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { uuidV7 } from '../adapters/http/uuid-v7.ts'
import { createEmbeddedLog } from '../adapters/log/embedded/embedded-log.ts'
import { captureRequestRecords } from '../commands/capture/capture-request.ts'
import { decodeCaptureRequest } from '../commands/capture/decode-request.ts'
import type { LogRecord } from '../ports/log.ts'
import { Topics } from '../schema/topics.ts'

/** The records capture appends for a request to /batch/. */
export function requestRecords(body: Buffer): LogRecord[] {
  const decoded = decodeCaptureRequest({ path: '/batch/', method: 'POST', query: {}, headers: {}, body })
  return captureRequestRecords(decoded, {
    now: new Date(),
    ip: '127.0.0.1',
    newUuid: () => uuidV7(),
    siteUrl: 'http://127.0.0.1',
  })
}

/** An embedded log of its own in a temporary directory: one writer, as capture's thread is. */
export async function openCommandLog() {
  const log = createEmbeddedLog({
    path: await mkdtemp(join(tmpdir(), 'sluice-bench-threads-')),
    segmentTopics: [Topics.captureRequests],
  })
  await log.ensureTopics([{ name: Topics.captureRequests, partitions: 1, retention: 'forever' }])
  return { append: (records: LogRecord[]) => log.append(Topics.captureRequests, records) }
}

/** A worker thread running `module` (TypeScript, through tsx as the CLI runs) with `workerData`. */
export function tsWorkerSource(module: URL): string {
  return `const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
register()
await import(${JSON.stringify(module.href)})`
}

/** The `handoff` design's shared memory (capture-threads-server.ts, capture-threads-handoff.ts). */
export const handoffSlots = 64
export const slotBytes = 256 * 1024

/** `control`: [submissions so far, a state per slot (`stateAt`), a body length per slot (`lengthAt`)]. */
export interface HandoffShared {
  control: Int32Array
  bodies: Uint8Array
}

export const SlotState = { free: 0, submitted: 1, taken: 2, durable: 3, failed: 4 } as const

export const stateAt = (slot: number) => 1 + slot
export const lengthAt = (slot: number) => 1 + handoffSlots + slot
