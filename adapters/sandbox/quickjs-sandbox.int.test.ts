import { describe, expect, it } from 'vitest'
import { type AppInput, type AppRunOutcome, AppSourceError, type CompiledApp } from '../../ports/apps.ts'
import { createQuickJsSandbox } from './quickjs-sandbox.ts'

const limits = { memoryBytes: 32 * 2 ** 20, timeoutMs: 300 }
const sandbox = createQuickJsSandbox(limits)
// time enough to fill the memory even on a busy machine, so it is the memory limit that stops an app
const roomy = createQuickJsSandbox({ ...limits, timeoutMs: 10_000 })
const capturedAt = Date.parse('2026-11-25T10:20:30.000Z')

const event = {
  uuid: '0190f0a0-0000-7000-8000-000000000001',
  event: 'viewed',
  distinct_id: 'user-1',
  properties: { plan: 'free', $set: { plan: 'free' } },
  timestamp: '2026-11-25T10:20:30.000Z',
  now: '2026-11-25T10:20:30.000Z',
  sent_at: null,
  ip: null,
  team_id: 7,
}
const input = (changes: Partial<AppInput> = {}): AppInput => ({
  eventJson: JSON.stringify(event),
  nowMs: capturedAt,
  randomSeed: [1, 2, 3, 4],
  ...changes,
})

async function withApp<T>(
  source: string,
  use: (app: CompiledApp) => Promise<T>,
  config: Record<string, unknown> = {},
  within = sandbox,
): Promise<T> {
  const app = await within.compile({ source, config, teamId: 7 })
  try {
    return await use(app)
  } finally {
    // QuickJS refuses to free a runtime with a handle still alive: this throws on a leak
    app.dispose()
  }
}

/** The event an app returned, parsed; fails the test for any other outcome. */
function returned(outcome: AppRunOutcome): { event: string; properties: Record<string, unknown> } {
  if (outcome.kind !== 'returned') throw new Error(`expected an event, got ${JSON.stringify(outcome)}`)
  return JSON.parse(outcome.eventJson)
}

/** What an app computes of `expression` for an event, as JSON-able data. */
const probe = (expression: string) =>
  withApp(
    `function processEvent(event) { event.properties.probe = (() => { try { return ${expression} } catch (error) { return 'threw ' + String(error) } })(); return event }`,
    async (app) => returned(await app.run(input())).properties.probe,
  )

describe('apps in the QuickJS sandbox', () => {
  it('gets the event and meta (config, project), and what it returns comes back', async () => {
    const source = `export function processEvent(event, meta) {
      event.properties.greeting = meta.config.greeting
      event.properties.project = meta.project.id
      return event
    }`
    const out = await withApp(source, async (app) => returned(await app.run(input())), { greeting: 'hello' })
    expect(out.properties).toEqual({ plan: 'free', $set: { plan: 'free' }, greeting: 'hello', project: 7 })
  })

  it('drops the event on any falsy return, and an async processEvent is awaited', async () => {
    for (const value of ['null', 'undefined', 'false', '0', "''"])
      await withApp(`function processEvent() { return ${value} }`, async (app) =>
        expect((await app.run(input())).kind).toBe('dropped'),
      )
    const renamed = await withApp(
      'export async function processEvent(event) { await null; event.event = "renamed"; return event }',
      async (app) => returned(await app.run(input())),
    )
    expect(renamed.event).toBe('renamed')
  })

  it('reports what the app threw, and runs the next event as if nothing happened', async () => {
    await withApp(
      `function processEvent(event) { if (event.properties.plan === 'free') throw new TypeError('no free plans'); return event }`,
      async (app) => {
        expect(await app.run(input())).toMatchObject({
          kind: 'failed',
          failure: 'threw',
          error: 'TypeError: no free plans',
        })
        const paid = JSON.stringify({ ...event, properties: { plan: 'pro' } })
        expect(returned(await app.run(input({ eventJson: paid }))).properties).toEqual({ plan: 'pro' })
      },
    )
    await withApp('async function processEvent() { throw new Error("later") }', async (app) =>
      expect(await app.run(input())).toMatchObject({
        kind: 'failed',
        failure: 'threw',
        error: 'Error: later',
      }),
    )
  })

  it('stops an infinite loop at the time limit, then runs the next event', async () => {
    await withApp(
      'function processEvent(event) { if (event.event === "viewed") for (;;) {} return event }',
      async (app) => {
        const started = performance.now()
        expect(await app.run(input())).toMatchObject({ kind: 'failed', failure: 'timeout' })
        expect(performance.now() - started).toBeLessThan(limits.timeoutMs + 2000)
        const other = JSON.stringify({ ...event, event: 'other' })
        expect(returned(await app.run(input({ eventJson: other }))).event).toBe('other')
      },
    )
    // a loop in the jobs a promise queued, never awaited, is stopped too
    await withApp(
      'function processEvent(event) { Promise.resolve().then(() => { for (;;) {} }); return event }',
      async (app) => expect(await app.run(input())).toMatchObject({ kind: 'failed', failure: 'timeout' }),
    )
  })

  it('stops unbounded allocation at the memory limit — array buffers and strings too — then runs the next event', async () => {
    for (const allocation of [
      'new ArrayBuffer(1 << 20)',
      "'x'.repeat(1 << 20) + kept.length",
      '{ n: kept.length }',
    ]) {
      await withApp(
        `function processEvent(event) { if (event.event !== 'viewed') return event; const kept = []; for (;;) kept.push(${allocation}) }`,
        async (app) => {
          expect(await app.run(input())).toMatchObject({ kind: 'failed', failure: 'memory' })
          const other = JSON.stringify({ ...event, event: 'other' })
          expect(returned(await app.run(input({ eventJson: other }))).event).toBe('other')
        },
        {},
        roomy,
      )
    }
  })

  it('survives what breaks the sandbox itself (nesting too deep for the stack) by building it again', async () => {
    await withApp(
      `function processEvent(event) {
        if (event.event !== 'viewed') return event
        let deep = []
        for (let i = 0; i < 300000; i++) deep = [deep]
        return { ...event, properties: { deep } }
      }`,
      async (app) => {
        expect(await app.run(input())).toMatchObject({ kind: 'failed' })
        const other = JSON.stringify({ ...event, event: 'other' })
        expect(returned(await app.run(input({ eventJson: other }))).event).toBe('other')
      },
    )
  })

  it('has no require, import, process, fetch, timers or host objects', async () => {
    expect(
      await probe(
        '[typeof require, typeof process, typeof fetch, typeof setTimeout, typeof setInterval, typeof queueMicrotask, typeof module, typeof Buffer]',
      ),
    ).toEqual(Array(8).fill('undefined'))
    const globals = (await probe('Object.getOwnPropertyNames(globalThis)')) as string[]
    // the standard built-ins and console, nothing of the host's
    expect(globals).toContain('JSON')
    expect(globals).toContain('console')
    for (const name of [
      'require',
      'process',
      'global',
      'fetch',
      'eval',
      'WeakRef',
      'FinalizationRegistry',
      'hostLog',
    ])
      expect(globals).not.toContain(name)
    await withApp(
      'export async function processEvent(event) { try { await import("node:fs") } catch (error) { event.properties.probe = String(error) } return event }',
      async (app) =>
        expect(returned(await app.run(input())).properties.probe).toMatch(/could not load module/),
    )
  })

  it('refuses the constructor escapes: no code generation, and nothing of the host behind any constructor', async () => {
    const refused = 'threw TypeError: apps cannot generate code at run time (eval, Function)'
    expect(await probe("({}).constructor.constructor('return process')()")).toBe(refused)
    expect(await probe("event.constructor.constructor('return process')()")).toBe(refused)
    expect(await probe("(() => {}).constructor('return globalThis')()")).toBe(refused)
    expect(await probe("Function('return 1')()")).toBe(refused)
    expect(await probe("new Function('return 1')()")).toBe(refused)
    expect(await probe("Object.getPrototypeOf(async function () {}).constructor('return 1')")).toBe(refused)
    expect(await probe("Object.getPrototypeOf(function* () {}).constructor('yield 1')")).toBe(refused)
    expect(await probe("Object.getPrototypeOf(async function* () {}).constructor('yield 1')")).toBe(refused)
    expect(await probe("eval('1 + 1')")).toBe("threw ReferenceError: 'eval' is not defined")
    expect(await probe('(function () { return this })()')).toBe(undefined)
    expect(await probe('processEvent.caller')).toMatch(/^threw TypeError/)
    // instanceof still holds for the functions an app writes
    expect(await probe('[(() => 1) instanceof Function, (async () => 1) instanceof Function]')).toEqual([
      true,
      true,
    ])
  })

  it('keeps no state from one event to the next: top-level bindings, globals and prototypes', async () => {
    const source = `
      let count = 0
      const seen = []
      export function processEvent(event) {
        count++
        seen.push(event.uuid)
        const attempts = {}
        for (const [name, attempt] of Object.entries({
          global: () => { globalThis.leak = 1 },
          prototype: () => { Object.prototype.leak = 1 },
          arrayPrototype: () => { Array.prototype.push = () => 0 },
          json: () => { JSON.parse = () => ({}) },
          math: () => { Math.random = () => 0.5 },
          console: () => { console.log = () => {} },
        })) {
          try { attempt(); attempts[name] = 'allowed' } catch (error) { attempts[name] = error.constructor.name }
        }
        event.properties = { count, seen: seen.length, attempts, leak: ({}).leak ?? null, global: globalThis.leak ?? null }
        return event
      }`
    await withApp(source, async (app) => {
      const first = returned(await app.run(input()))
      const second = returned(await app.run(input()))
      expect(second.properties).toEqual(first.properties)
      expect(first.properties).toMatchObject({ count: 1, seen: 1, leak: null, global: null })
      expect(Object.values(first.properties.attempts as object)).toEqual(Array(6).fill('TypeError'))
    })
  })

  it('still lets an object have its own toString, or an error its own name, on frozen prototypes', async () => {
    expect(
      await probe(
        "(() => { const o = {}; o.toString = () => 'mine'; class Custom extends Error { constructor() { super('m'); this.name = 'Custom' } } return [String(o), new Custom().name, String(new Custom())] })()",
      ),
    ).toEqual(['mine', 'Custom', 'Custom: m'])
  })

  it('gives Date the capture time, in UTC, and Math.random a sequence seeded by the host', async () => {
    expect(
      await probe(
        "[Date.now(), new Date().toISOString(), String(new Date()), new Date(2026, 0, 2, 3).getHours(), new Date(2026, 0, 2, 3).toISOString(), new Date('2026-01-02T03:04:05').toISOString(), new Date(0).getTimezoneOffset()]",
      ),
    ).toEqual([
      capturedAt,
      '2026-11-25T10:20:30.000Z',
      'Wed Nov 25 2026 10:20:30 GMT+0000',
      3,
      '2026-01-02T03:00:00.000Z',
      '2026-01-02T03:04:05.000Z',
      0,
    ])
    const source =
      'function processEvent(event) { event.properties = { r: [Math.random(), Math.random()] }; return event }'
    await withApp(source, async (app) => {
      const once = returned(await app.run(input())).properties
      const again = returned(await app.run(input())).properties
      const otherSeed = returned(await app.run(input({ randomSeed: [5, 6, 7, 8] }))).properties
      expect(again).toEqual(once)
      expect(otherSeed).not.toEqual(once)
      expect((once.r as number[]).every((r) => r >= 0 && r < 1)).toBe(true)
    })
  })

  it("hands console lines to the app's log, bounded per event", async () => {
    await withApp(
      `function processEvent(event) {
        console.log('seen', event.uuid, { plan: event.properties.plan })
        console.warn('careful'); console.error(new Error('bad')); console.info(1, null)
        for (let i = 0; i < 100; i++) console.log('line', i)
        return event
      }`,
      async (app) => {
        const { logs } = await app.run(input())
        expect(logs.slice(0, 4)).toEqual([
          { level: 'log', message: `seen ${event.uuid} {"plan":"free"}` },
          { level: 'warn', message: 'careful' },
          { level: 'error', message: 'Error: bad' },
          { level: 'info', message: '1 null' },
        ])
        expect(logs).toHaveLength(21)
        expect(logs.at(-1)?.message).toMatch(/the rest was not kept/)
      },
    )
  })

  it('refuses at install a source that does not compile, escapes its wrapper, imports, or defines no processEvent', async () => {
    const refusal = async (source: string) => {
      try {
        await sandbox.compile({ source, config: {}, teamId: 7 })
      } catch (error) {
        if (error instanceof AppSourceError) return error.message
        throw error
      }
      throw new Error(`compiled: ${source}`)
    }
    expect(await refusal('function processEvent(event) { return event ')).toMatch(
      /^the source does not compile: SyntaxError/,
    )
    expect(await refusal('}); globalThis.stash = {}; (function () {')).toMatch(/^the source does not compile/)
    expect(await refusal("import fs from 'node:fs'\nexport function processEvent(e) { return e }")).toMatch(
      /cannot import/,
    )
    expect(await refusal('export function transform(event) { return event }')).toBe(
      'the source defines no processEvent function',
    )
    expect(await refusal('throw new Error("at load")\nfunction processEvent(e) { return e }')).toBe(
      'the source fails when it runs: Error: at load',
    )
    // PostHog plugin forms that are fine
    for (const source of [
      'export async function processEvent(event) { return event }',
      'const processEvent = (event) => event',
      'function handle(event) { return event }\nexport { handle as processEvent }',
    ])
      await withApp(source, async (app) => expect((await app.run(input())).kind).toBe('returned'))
  })

  it('frees every handle: an app that ran many events, failing ones too, disposes without a leak', async () => {
    await withApp(
      'function processEvent(event) { if (event.properties.fail) throw new Error("x"); console.log("k"); return event.properties.drop ? null : event }',
      async (app) => {
        for (let i = 0; i < 300; i++) {
          const properties = i % 3 === 0 ? { fail: true } : i % 3 === 1 ? { drop: true } : {}
          await app.run(input({ eventJson: JSON.stringify({ ...event, properties }) }))
        }
      },
    )
  })
})
