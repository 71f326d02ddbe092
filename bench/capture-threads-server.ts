/**
 * A capture server for bench/capture-threads.ts, in one of three designs (`DESIGN`):
 * - `one`: one thread takes the request, does capture's work and the durable append (as `sluice
 *   start`'s capture thread does);
 * - `handoff`: one thread takes the requests and hands their bodies through shared memory to a
 *   second, which does the work and the append and says when they are durable;
 * - `two`: two threads each take requests on the same port (SO_REUSEPORT, Node 22.12 and later)
 *   and do it all, each appending to a log of its own — the most two threads could do, before any
 *   cost of sharing one partition between them. Each of its threads runs this module as `one-of-two`.
 */
import { parentPort, Worker } from 'node:worker_threads'
import Fastify from 'fastify'
import {
  type HandoffShared,
  handoffSlots,
  lengthAt,
  openCommandLog,
  requestRecords,
  SlotState,
  slotBytes,
  stateAt,
  tsWorkerSource,
} from './capture-threads-intake.ts'

const design = process.env.DESIGN ?? 'one'
process.on('SIGTERM', () => process.exit(0))

if (design === 'two') {
  const start = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const worker = new Worker(tsWorkerSource(new URL('./capture-threads-server.ts', import.meta.url)), {
        eval: true,
        env: { ...process.env, DESIGN: 'one-of-two', PORT: String(port) },
      })
      worker.once('message', resolve)
      worker.once('error', reject)
    })
  const port = await start(0)
  await start(port)
  console.log(`listening on http://127.0.0.1:${port}`)
} else {
  const take = design === 'handoff' ? await handoff() : await inline()
  const app = Fastify({ logger: false, bodyLimit: 20 * 1024 * 1024 })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
  app.post('/batch/', async (request, reply) => {
    await take(request.body as Buffer)
    return reply.send({ status: 1 })
  })
  const reusePort = design === 'one-of-two'
  // Node 22.12 lets the two threads share the port; on Node 20 the second gets EADDRINUSE
  await app.listen({
    host: '127.0.0.1',
    port: Number(process.env.PORT ?? 0),
    ...(reusePort ? { reusePort } : {}),
  })
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  if (reusePort) parentPort?.postMessage(port)
  else console.log(`listening on http://127.0.0.1:${port}`)
}

async function inline() {
  const log = await openCommandLog()
  return (body: Buffer) => log.append(requestRecords(body))
}

/** Bodies go into slots of shared memory; the worker marks each slot durable, or failed, and says so. */
async function handoff() {
  const shared: HandoffShared = {
    control: new Int32Array(new SharedArrayBuffer(4 * (1 + 2 * handoffSlots))),
    bodies: new Uint8Array(new SharedArrayBuffer(handoffSlots * slotBytes)),
  }
  const worker = new Worker(tsWorkerSource(new URL('./capture-threads-handoff.ts', import.meta.url)), {
    eval: true,
    workerData: shared,
  })
  await new Promise((resolve) => worker.once('message', resolve))
  const free = Array.from({ length: handoffSlots }, (_, slot) => slot)
  const waitingForSlot: (() => void)[] = []
  const inFlight = new Map<number, { resolve: () => void; reject: (error: Error) => void }>()
  worker.on('message', () => {
    for (const [slot, waiter] of inFlight) {
      const state = Atomics.load(shared.control, stateAt(slot))
      if (state !== SlotState.durable && state !== SlotState.failed) continue
      inFlight.delete(slot)
      Atomics.store(shared.control, stateAt(slot), SlotState.free)
      free.push(slot)
      if (state === SlotState.durable) waiter.resolve()
      else waiter.reject(new Error('the worker could not take the request'))
      waitingForSlot.shift()?.()
    }
  })
  return async (body: Buffer) => {
    if (body.length > slotBytes) throw new Error('body larger than a slot')
    while (free.length === 0) await new Promise<void>((resolve) => waitingForSlot.push(resolve))
    const slot = free.pop() as number
    shared.bodies.set(body, slot * slotBytes)
    shared.control[lengthAt(slot)] = body.length
    const durable = new Promise<void>((resolve, reject) => inFlight.set(slot, { resolve, reject }))
    Atomics.store(shared.control, stateAt(slot), SlotState.submitted)
    Atomics.add(shared.control, 0, 1)
    Atomics.notify(shared.control, 0)
    return durable
  }
}
