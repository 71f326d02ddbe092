#!/usr/bin/env -S node --max-semi-space-size=64
// (A 64 MB young generation: ingest makes many short-lived objects per batch, and a larger nursery
// lets far fewer of them be copied into the old generation. `npm start` passes the same flag.)
// The CLI runs the TypeScript sources directly through tsx, so `npx sluice` works right after
// `npm ci` with no build step.
import { register } from 'tsx/esm/api'

register()
await import('../adapters/cli/main.ts')
