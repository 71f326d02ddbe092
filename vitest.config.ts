import { defineConfig } from 'vitest/config'

// Test tiers are named in the file name, so a newcomer knows what a file needs before opening it:
// *.unit.test.ts — pure, no I/O; *.int.test.ts — real adapters (PGlite, PostgreSQL, chDB, logs,
// Kafka); *.e2e.test.ts — sluice started as a user would, driven by the real SDKs.
const exclude = ['node_modules/**', '.sluice/**', '.cache/**']

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['**/*.unit.test.ts'], exclude } },
      {
        test: {
          name: 'int',
          include: ['**/*.int.test.ts'],
          exclude,
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // chDB binds one data directory per process: give each file its own process.
          pool: 'forks',
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['**/*.e2e.test.ts'],
          exclude,
          testTimeout: 180_000,
          hookTimeout: 180_000,
          pool: 'forks',
          fileParallelism: false,
        },
      },
    ],
  },
})
