// Evaluated once in each app's QuickJS context, before the app's source (quickjs-sandbox.ts). It
// makes the realm deterministic and closed, then freezes it, so that an app is a pure function of
// (event, config, app version):
// - `Date` reads the event's capture time, and reads and writes local time as UTC (a replay on a
//   machine in another time zone gives the same results); `Math.random` is a generator the host
//   seeds from the event uuid before every event;
// - `console.log/info/warn/error` hand their text to the host, which keeps it (bounded) in the
//   app's log;
// - no code generation at run time (`eval`, the Function constructors) and no weak references:
//   either could carry state from one event to the next;
// - every object reachable from the global object, and the intrinsics reachable only from
//   syntax (generators, async functions, iterators), is frozen. The app's top-level code is run
//   again for every event (quickjs-sandbox.ts), so with nothing left to write to, no event can
//   leave anything behind for the next.
// Its value is the function the host calls with `hostLog`; that returns the host's controls,
// which nothing inside the sandbox can reach.
;(function setUpRealm(hostLog) {
  // biome-ignore lint/suspicious/noRedundantUseStrict: QuickJS evaluates this file as a script, not a module
  'use strict'
  const { defineProperty, freeze, getOwnPropertyDescriptor, getPrototypeOf } = Object
  const { apply, construct, ownKeys } = Reflect
  const parseJson = JSON.parse
  const stringify = JSON.stringify
  const isNotANumber = Number.isNaN
  const OriginalDate = Date
  const dateProto = OriginalDate.prototype
  const parseDate = OriginalDate.parse
  const utc = OriginalDate.UTC

  let nowMs = 0
  // sfc32's state; reseeded before every event
  let a = 0
  let b = 0
  let c = 0
  let d = 0

  // Date -------------------------------------------------------------------------------------------
  // ISO date-times without a zone are local time in JavaScript: here they are UTC.
  const zoneless = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/
  const asUtc = (value) => (typeof value === 'string' && zoneless.test(value) ? `${value}Z` : value)
  function SandboxDate(...parts) {
    if (new.target === undefined) return dateString(new OriginalDate(nowMs))
    if (parts.length === 0) return construct(OriginalDate, [nowMs], new.target)
    if (parts.length === 1) return construct(OriginalDate, [asUtc(parts[0])], new.target)
    return construct(OriginalDate, [apply(utc, undefined, parts)], new.target)
  }
  defineProperty(SandboxDate, 'name', { value: 'Date' })
  SandboxDate.prototype = dateProto
  SandboxDate.now = function now() {
    return nowMs
  }
  SandboxDate.parse = function parse(text) {
    return parseDate(asUtc(String(text)))
  }
  SandboxDate.UTC = utc
  const replace = (target, key, value) =>
    defineProperty(target, key, { value, writable: true, enumerable: false, configurable: true })
  replace(dateProto, 'constructor', SandboxDate)
  for (const unit of ['FullYear', 'Month', 'Date', 'Day', 'Hours', 'Minutes', 'Seconds', 'Milliseconds']) {
    replace(dateProto, `get${unit}`, dateProto[`getUTC${unit}`])
    if (unit !== 'Day') replace(dateProto, `set${unit}`, dateProto[`setUTC${unit}`])
  }
  replace(dateProto, 'getYear', function getYear() {
    return this.getUTCFullYear() - 1900
  })
  replace(dateProto, 'setYear', function setYear(year) {
    return this.setUTCFullYear(year < 100 && year >= 0 ? 1900 + year : year)
  })
  replace(dateProto, 'getTimezoneOffset', function getTimezoneOffset() {
    return isNotANumber(this.getTime()) ? Number.NaN : 0
  })
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
  const pad = (n) => String(n).padStart(2, '0')
  const year = (date) => {
    const y = date.getUTCFullYear()
    return y < 0 ? `-${String(-y).padStart(6, '0')}` : String(y).padStart(4, '0')
  }
  const datePart = (date) =>
    `${days[date.getUTCDay()]} ${months[date.getUTCMonth()]} ${pad(date.getUTCDate())} ${year(date)}`
  const timePart = (date) =>
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} GMT+0000`
  const localeDate = (date) => `${pad(date.getUTCMonth() + 1)}/${pad(date.getUTCDate())}/${year(date)}`
  const localeTime = (date) => {
    const hours = date.getUTCHours()
    return `${pad(hours % 12 || 12)}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} ${hours < 12 ? 'AM' : 'PM'}`
  }
  const valid = (format) =>
    function (...ignored) {
      return isNotANumber(this.getTime()) ? 'Invalid Date' : format(this, ignored)
    }
  const dateString = valid((date) => `${datePart(date)} ${timePart(date)}`)
  replace(dateProto, 'toString', dateString)
  replace(dateProto, 'toDateString', valid(datePart))
  replace(dateProto, 'toTimeString', valid(timePart))
  replace(
    dateProto,
    'toLocaleString',
    valid((date) => `${localeDate(date)}, ${localeTime(date)}`),
  )
  replace(dateProto, 'toLocaleDateString', valid(localeDate))
  replace(dateProto, 'toLocaleTimeString', valid(localeTime))
  replace(globalThis, 'Date', SandboxDate)

  // Math.random: sfc32, seeded by the host ----------------------------------------------------------
  replace(Math, 'random', function random() {
    const t = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return (t >>> 0) / 4294967296
  })

  // console ----------------------------------------------------------------------------------------
  const describe = (value) => {
    if (typeof value === 'string') return value
    if (value instanceof Error) return `${value.name}: ${value.message}`
    try {
      const text = stringify(value)
      if (typeof text === 'string') return text
    } catch {}
    try {
      return String(value)
    } catch {
      return '[unprintable]'
    }
  }
  const logTo =
    (level) =>
    (...values) => {
      hostLog(level, values.map(describe).join(' ').slice(0, 2000))
    }
  replace(globalThis, 'console', {
    log: logTo('log'),
    info: logTo('info'),
    warn: logTo('warn'),
    error: logTo('error'),
    debug: logTo('log'),
  })

  // No code generation, no weak references -------------------------------------------------------
  const constructors = [
    Function,
    getPrototypeOf(function* () {}).constructor,
    getPrototypeOf(async () => {}).constructor,
    getPrototypeOf(async function* () {}).constructor,
  ]
  for (const Constructor of constructors) {
    // a function, not an arrow: `new Function(…)` must meet this refusal too
    function refusing() {
      throw new TypeError('apps cannot generate code at run time (eval, Function)')
    }
    refusing.prototype = Constructor.prototype
    replace(Constructor.prototype, 'constructor', refusing)
    if (Constructor === Function) replace(globalThis, 'Function', refusing)
  }
  // biome-ignore lint/security/noGlobalEval: not a call: the global goes
  delete globalThis.eval
  delete globalThis.WeakRef
  delete globalThis.FinalizationRegistry

  // Frozen prototypes refuse `object.toString = …` on every object that inherits them (the
  // "override mistake"); as accessors they let an object get its own property instead.
  const errors = [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError]
  if (typeof AggregateError === 'function') errors.push(AggregateError)
  if (typeof InternalError === 'function') errors.push(InternalError)
  for (const proto of [Object.prototype, ...errors.map((E) => E.prototype)]) {
    for (const key of ownKeys(proto)) {
      const descriptor = getOwnPropertyDescriptor(proto, key)
      if (!('value' in descriptor) || !descriptor.configurable) continue
      const value = descriptor.value
      defineProperty(proto, key, {
        get() {
          return value
        },
        set(replacement) {
          if (this === proto) throw new TypeError(`Cannot assign to read only property '${String(key)}'`)
          defineProperty(this, key, {
            value: replacement,
            writable: true,
            enumerable: true,
            configurable: true,
          })
        },
        enumerable: descriptor.enumerable,
        configurable: false,
      })
    }
  }

  // Freeze everything reachable ---------------------------------------------------------------------
  const generator = function* () {}
  const asyncGenerator = async function* () {}
  const asyncFunction = async () => {}
  const roots = [
    globalThis,
    generator,
    generator(),
    asyncGenerator,
    asyncGenerator(),
    asyncFunction,
    asyncFunction(),
    [].values(),
    new Map().values(),
    new Set().values(),
    ''[Symbol.iterator](),
    'a'.matchAll(/a/g),
    (function () {
      // biome-ignore lint/complexity/noArguments: an arguments object leads to intrinsics of its own
      return arguments
    })(),
  ]
  if (typeof Iterator === 'function') {
    roots.push([].values().map((x) => x))
    if (typeof Iterator.from === 'function') roots.push(Iterator.from({ next: () => ({ done: true }) }))
  }
  const seen = new Set()
  const pending = roots
  while (pending.length > 0) {
    const value = pending.pop()
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null || seen.has(value))
      continue
    seen.add(value)
    pending.push(getPrototypeOf(value))
    for (const key of ownKeys(value)) {
      const descriptor = getOwnPropertyDescriptor(value, key)
      if ('value' in descriptor) pending.push(descriptor.value)
      else pending.push(descriptor.get, descriptor.set)
    }
  }
  for (const value of seen) freeze(value)

  // The host's controls ----------------------------------------------------------------------------
  // NUL never appears in JSON text (it would be escaped): it stands for what JSON cannot hold
  const encode = (returned) => (returned ? (stringify(returned) ?? '\0') : '')
  return {
    /**
     * Runs one event: the app's top-level code again (`factory`), then its processEvent. Gives the
     * returned event as JSON, '' for a falsy return (drop), NUL for what JSON cannot hold — or a
     * promise of that when processEvent is async.
     */
    run(factory, eventJson, configJson, projectId, now, s0, s1, s2, s3) {
      nowMs = now
      a = s0
      b = s1
      c = s2
      d = s3
      const processEvent = factory()
      if (typeof processEvent !== 'function') throw new TypeError('processEvent is not a function')
      const meta = { config: parseJson(configJson), project: { id: projectId }, global: {} }
      const returned = processEvent(parseJson(eventJson), meta)
      if (returned !== null && typeof returned === 'object' && typeof returned.then === 'function')
        return Promise.resolve(returned).then(encode)
      return encode(returned)
    },
    /** Whether the app's top-level code defines processEvent (run once, when the app is installed). */
    definesProcessEvent(factory) {
      return typeof factory() === 'function'
    },
    /** One line for what was thrown, never throwing itself. */
    describeError(error) {
      try {
        if (error !== null && typeof error === 'object' && 'message' in error)
          return `${String(error.name ?? 'Error')}: ${String(error.message)}`.slice(0, 2000)
        return describe(error).slice(0, 2000)
      } catch {
        return 'an error that cannot be read'
      }
    },
  }
})
