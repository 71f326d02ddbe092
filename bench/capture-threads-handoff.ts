/**
 * The second thread of the `handoff` design (capture-threads-server.ts): it sleeps on the shared
 * submission counter, takes every submitted body, does capture's work on each, appends them all in
 * one durable append, marks their slots and wakes the first thread once.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { LogRecord } from '../ports/log.ts'
import {
  type HandoffShared,
  handoffSlots,
  lengthAt,
  openCommandLog,
  requestRecords,
  SlotState,
  slotBytes,
  stateAt,
} from './capture-threads-intake.ts'

const { control, bodies } = workerData as HandoffShared
const log = await openCommandLog()
parentPort?.postMessage('ready')
for (let seen = 0; ; ) {
  Atomics.wait(control, 0, seen)
  seen = Atomics.load(control, 0)
  const taken: number[] = []
  const records: LogRecord[] = []
  for (let slot = 0; slot < handoffSlots; slot++) {
    if (Atomics.load(control, stateAt(slot)) !== SlotState.submitted) continue
    Atomics.store(control, stateAt(slot), SlotState.taken)
    const body = Buffer.from(bodies.buffer, bodies.byteOffset + slot * slotBytes, control[lengthAt(slot)])
    try {
      records.push(...requestRecords(body))
      taken.push(slot)
    } catch {
      Atomics.store(control, stateAt(slot), SlotState.failed)
    }
  }
  const outcome = await log.append(records).then(
    () => SlotState.durable,
    () => SlotState.failed,
  )
  for (const slot of taken) Atomics.store(control, stateAt(slot), outcome)
  parentPort?.postMessage(null)
}
