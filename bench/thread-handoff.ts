/**
 * What it costs one thread to wake another and hear back: a number passed back and forth between
 * the main thread and a worker with `postMessage`, 20 000 times. Capture hands work across threads
 * (each commit's write and flush to libuv's pool, and back), so on a machine where this is dear,
 * capture is dearer against bare fastify, which only wakes its client. Prints one JSON line.
 */
import { Worker } from 'node:worker_threads'

const roundTrips = 20_000

{
  // the worker only answers; plain JavaScript, which a worker runs without the TypeScript loader
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads')
parentPort.on('message', (value) => parentPort.postMessage(value))`,
    { eval: true },
  )
  await new Promise((resolve) => worker.once('online', resolve))
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  await new Promise<void>((resolve) => {
    let done = 0
    worker.on('message', () => {
      if (++done === roundTrips) resolve()
      else worker.postMessage(done)
    })
    worker.postMessage(0)
  })
  const micros = ((performance.now() - started) * 1000) / roundTrips
  const cpu = process.cpuUsage(cpuBefore)
  console.log(JSON.stringify({ micros, cpuMicros: (cpu.user + cpu.system) / roundTrips }))
  await worker.terminate()
}
