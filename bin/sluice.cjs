#!/usr/bin/env -S node --max-semi-space-size=64
// (A 64 MB young generation: ingest makes many short-lived objects per batch, and a larger nursery
// lets far fewer of them be copied into the old generation. `npm start` passes the same flag.)
// The CLI runs the TypeScript sources directly through tsx, so `npx sluice` works right after
// `npm ci` with no build step.
'use strict'

// The threads Node starts before any JavaScript runs: V8's platform workers, which collect garbage
// and compile for every thread's heap. `sluice start` lowers them with the main thread once capture
// has a thread of its own (adapters/runtime/capture-thread.ts). Noted here, first: this entry is
// CommonJS because an ES module entry is read through libuv's pool, whose threads would be among
// them — and capture's commits run there.
if (process.platform === 'linux') {
  try {
    globalThis[Symbol.for('sluice.startup-threads')] = require('node:fs')
      .readdirSync('/proc/self/task')
      .map(Number)
      .filter((thread) => thread !== process.pid)
  } catch {
    // no /proc: every thread keeps the process's priority
  }
}

import('tsx/esm/api')
  .then(({ register }) => {
    register()
    return import('../adapters/cli/main.ts')
  })
  .catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
