#!/usr/bin/env node
// The CLI runs the TypeScript sources directly through tsx, so `npx sluice` works right after
// `npm ci` with no build step.
import { register } from 'tsx/esm/api'

register()
await import('../adapters/cli/main.ts')
