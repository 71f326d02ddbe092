import { readFileSync } from 'node:fs'
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  RELEASE_SYNC,
} from 'quickjs-emscripten'
import {
  type AppCode,
  type AppInput,
  type AppLogLine,
  type AppRunOutcome,
  type AppSandbox,
  AppSourceError,
  type CompiledApp,
} from '../../ports/apps.ts'
import { appLogLevels } from '../../schema/apps.ts'
import { appScript, factoryExpression } from './app-script.ts'

/** What an app may use per event; set per installation (adapters/runtime/config.ts). */
export interface SandboxLimits {
  memoryBytes: number
  timeoutMs: number
}

// QuickJS's own stack limit, below what V8 allows the WebAssembly under it: deep recursion in an app
// meets a catchable RangeError. Recursion inside QuickJS's C code (JSON of deeply nested values) can
// still exhaust V8's stack first; that breaks the instance, which is then thrown away ('crashed').
const maxStackBytes = 256 * 1024
const maxLogLinesPerEvent = 20
const wasmPage = 64 * 1024
// What the QuickJS build starts with (its static data and stack, and a first heap).
const initialWasmBytes = 16 * 2 ** 20

const realmSource = readFileSync(new URL('./sandbox-realm.js', import.meta.url), 'utf8')

// A global of Node's; TypeScript's ES libraries (without the DOM's) declare only its types.
const WasmMemory = (
  globalThis as unknown as {
    WebAssembly: {
      Memory: new (limits: {
        initial: number
        maximum: number
      }) => NonNullable<Parameters<typeof newVariant>[1]['wasmMemory']>
    }
  }
).WebAssembly.Memory

/**
 * Apps in quickjs-emscripten. Each compiled app version has a WebAssembly module of its own — its
 * memory, its QuickJS runtime with the memory and stack limits, one context — so an app that breaks
 * its sandbox breaks nothing else, and is rebuilt for the next event.
 *
 * The memory limit is the module's: QuickJS's own limit (`setMemoryLimit`) does not count large
 * strings and array buffers in this build (quickjs-emscripten issues #255, #271), so each module
 * gets a WebAssembly memory that cannot grow past the limit, and an allocation beyond it fails
 * inside QuickJS as "out of memory".
 *
 * No state survives from one event to the next, at the price of one context per app rather than per
 * event (measured by `npm run bench -- apps`: a fresh context per event costs about ten times as much as
 * running the event): the realm is frozen after set-up (sandbox-realm.js), and the app's source is
 * parsed once into a function that runs its top-level code again for every event.
 */
export function createQuickJsSandbox(limits: SandboxLimits): AppSandbox {
  return {
    async compile(code) {
      const script = appScript(code.source)
      const instance = await SandboxInstance.create(code, script, limits)
      return new QuickJsApp(() => SandboxInstance.create(code, script, limits), instance)
    },
  }
}

class QuickJsApp implements CompiledApp {
  private instance: SandboxInstance | null
  private rebuilding: Promise<SandboxInstance> | null = null

  constructor(
    private readonly build: () => Promise<SandboxInstance>,
    first: SandboxInstance,
  ) {
    this.instance = first
  }

  async run(input: AppInput): Promise<AppRunOutcome> {
    let instance: SandboxInstance
    try {
      instance = this.instance ?? (await this.rebuild())
    } catch (error) {
      return {
        kind: 'failed',
        failure: 'crashed',
        error: `the sandbox cannot be built: ${describe(error)}`,
        logs: [],
      }
    }
    try {
      const outcome = instance.call(input)
      // the runtime was stopped mid-way or is full: it starts afresh for the next event
      if (outcome.kind === 'failed' && (outcome.failure === 'timeout' || outcome.failure === 'memory')) {
        this.instance = null
        try {
          instance.dispose()
        } catch {
          // what cannot be freed goes with its WebAssembly module
        }
      }
      return outcome
    } catch (error) {
      // the WebAssembly under QuickJS broke (V8's stack overflowed, or it aborted): nothing of it is
      // kept, nor freed — freeing would meet the broken state and abort
      this.instance = null
      return {
        kind: 'failed',
        failure: 'crashed',
        error: `the sandbox broke (${describe(error)}) and is rebuilt`,
        logs: instance.logs,
      }
    }
  }

  /** Throws if QuickJS finds a handle left undisposed. */
  dispose(): void {
    const instance = this.instance
    this.instance = null
    instance?.dispose()
  }

  private rebuild(): Promise<SandboxInstance> {
    this.rebuilding ??= this.build().then(
      (instance) => {
        this.rebuilding = null
        this.instance = instance
        return instance
      },
      (error: unknown) => {
        this.rebuilding = null
        throw error
      },
    )
    return this.rebuilding
  }
}

/** One QuickJS runtime and context with the realm set up and the app's source compiled. */
class SandboxInstance {
  logs: AppLogLine[] = []
  private deadline = Number.POSITIVE_INFINITY
  private interrupted = false
  private readonly runtime: QuickJSRuntime
  private readonly context: QuickJSContext
  private readonly handles: QuickJSHandle[] = []
  private runEvent!: QuickJSHandle
  private describeError!: QuickJSHandle
  private factory!: QuickJSHandle
  private readonly configJson: string

  private constructor(
    runtime: QuickJSRuntime,
    private readonly code: AppCode,
    private readonly limits: SandboxLimits,
  ) {
    this.runtime = runtime
    this.configJson = JSON.stringify(code.config)
    runtime.setMemoryLimit(limits.memoryBytes)
    runtime.setMaxStackSize(maxStackBytes)
    runtime.setInterruptHandler(() => {
      if (performance.now() < this.deadline) return false
      this.interrupted = true
      return true
    })
    this.context = runtime.newContext()
  }

  static async create(code: AppCode, script: string, limits: SandboxLimits): Promise<SandboxInstance> {
    const wasmMemory = new WasmMemory({
      initial: initialWasmBytes / wasmPage,
      maximum: (initialWasmBytes + Math.ceil(limits.memoryBytes / wasmPage) * wasmPage) / wasmPage,
    })
    const module = await newQuickJSWASMModuleFromVariant(newVariant(RELEASE_SYNC, { wasmMemory }))
    const instance = new SandboxInstance(module.newRuntime(), code, limits)
    try {
      instance.setUp(script)
      return instance
    } catch (error) {
      instance.dispose()
      throw error
    }
  }

  private setUp(script: string): void {
    const context = this.context
    const hostLog = context.newFunction('hostLog', (levelHandle, messageHandle) => {
      if (this.logs.length > maxLogLinesPerEvent) return
      const level = context.getString(levelHandle) as AppLogLine['level']
      this.logs.push(
        this.logs.length === maxLogLinesPerEvent
          ? {
              level: 'warn',
              message: `more than ${maxLogLinesPerEvent} lines for one event; the rest was not kept`,
            }
          : {
              level: appLogLevels.includes(level) ? level : 'log',
              message: context.getString(messageHandle),
            },
      )
    })
    const setUpRealm = this.keep(context.unwrapResult(context.evalCode(realmSource, 'sluice-realm.js')))
    const controls = context.unwrapResult(context.callFunction(setUpRealm, context.undefined, hostLog))
    hostLog.dispose()
    this.runEvent = this.keep(context.getProp(controls, 'run'))
    this.describeError = this.keep(context.getProp(controls, 'describeError'))
    const definesProcessEvent = this.keep(context.getProp(controls, 'definesProcessEvent'))
    controls.dispose()

    // A source that is not a script of its own could close the function it is wrapped in and run
    // code of its own at the top level: it must compile alone first.
    const alone = context.evalCode(script, 'app.js', { compileOnly: true, strict: true })
    if (alone.error) throw new AppSourceError(`the source does not compile: ${this.errorText(alone.error)}`)
    alone.value.dispose()
    this.factory = this.keep(context.unwrapResult(context.evalCode(factoryExpression(script), 'app.js')))
    this.deadline = performance.now() + this.limits.timeoutMs
    const defined = context.callFunction(definesProcessEvent, context.undefined, this.factory)
    if (defined.error)
      throw new AppSourceError(`the source fails when it runs: ${this.failureOf(defined.error).error}`)
    const definesIt = context.dump(defined.value) === true
    defined.value.dispose()
    if (!definesIt) throw new AppSourceError('the source defines no processEvent function')
  }

  /** Runs one event; throws only when the WebAssembly under QuickJS itself broke. */
  call(input: AppInput): AppRunOutcome {
    const context = this.context
    this.logs = []
    this.interrupted = false
    this.deadline = performance.now() + this.limits.timeoutMs
    const args = [
      context.newString(input.eventJson),
      context.newString(this.configJson),
      context.newNumber(this.code.teamId),
      context.newNumber(input.nowMs),
      ...input.randomSeed.map((word) => context.newNumber(word)),
    ]
    let called: ReturnType<QuickJSContext['callFunction']>
    try {
      called = context.callFunction(this.runEvent, context.undefined, this.factory, ...args)
    } finally {
      for (const arg of args) arg.dispose()
    }
    if (called.error) return { ...this.failureOf(called.error), logs: this.logs }
    let text: string
    const returned = called.value
    try {
      if (context.typeof(returned) === 'string') text = context.getString(returned)
      else {
        // an async processEvent: its promise settles once the jobs it queued have run
        const jobs = this.runtime.executePendingJobs(-1)
        if (jobs.error) return { ...this.failureOf(jobs.error), logs: this.logs }
        // a job stopped at the deadline rejects its promise instead of reporting the error
        if (this.interrupted) return { ...this.timedOut(), logs: this.logs }
        const state = context.getPromiseState(returned)
        if (state.type === 'pending')
          return {
            kind: 'failed',
            failure: 'invalid',
            error:
              'processEvent returned a promise that never settles (an app has no timers or I/O to wait for)',
            logs: this.logs,
          }
        if (state.type === 'rejected') return { ...this.failureOf(state.error), logs: this.logs }
        text = context.getString(state.value)
        state.value.dispose()
      }
    } finally {
      returned.dispose()
    }
    // what the app queued and did not wait for runs now, inside this event's limits, never in the next
    if (this.runtime.hasPendingJob()) {
      const leftover = this.runtime.executePendingJobs(-1)
      if (leftover.error) return { ...this.failureOf(leftover.error), logs: this.logs }
      if (this.interrupted) return { ...this.timedOut(), logs: this.logs }
    }
    if (text === '') return { kind: 'dropped', logs: this.logs }
    if (text === '\0')
      return {
        kind: 'failed',
        failure: 'invalid',
        error: 'processEvent returned something JSON cannot hold (a function, a symbol)',
        logs: this.logs,
      }
    return { kind: 'returned', eventJson: text, logs: this.logs }
  }

  /** Frees the runtime; QuickJS aborts (throws) if a handle was left undisposed. */
  dispose(): void {
    for (const handle of this.handles.splice(0).reverse()) handle.dispose()
    this.context.dispose()
    this.runtime.dispose()
  }

  private keep(handle: QuickJSHandle): QuickJSHandle {
    this.handles.push(handle)
    return handle
  }

  /** Why a call failed, from the error it threw; the error handle is disposed. */
  private failureOf(error: QuickJSHandle): {
    kind: 'failed'
    failure: 'threw' | 'timeout' | 'memory'
    error: string
  } {
    if (this.interrupted) {
      error.dispose()
      return this.timedOut()
    }
    const text = this.errorText(error)
    if (text === 'InternalError: out of memory')
      return {
        kind: 'failed',
        failure: 'memory',
        error: `used more than its ${Math.round(this.limits.memoryBytes / 2 ** 20)} MB of memory`,
      }
    return { kind: 'failed', failure: 'threw', error: text }
  }

  private timedOut() {
    return {
      kind: 'failed',
      failure: 'timeout',
      error: `ran longer than its ${this.limits.timeoutMs} ms`,
    } as const
  }

  /** `name: message` of what was thrown, read inside the sandbox within a short time of its own. */
  private errorText(error: QuickJSHandle): string {
    const context = this.context
    this.deadline = performance.now() + 100
    const described = context.callFunction(this.describeError, context.undefined, error)
    error.dispose()
    if (described.error) {
      described.error.dispose()
      return 'an error that cannot be read'
    }
    const text = context.getString(described.value)
    described.value.dispose()
    return text
  }
}

const describe = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error)
