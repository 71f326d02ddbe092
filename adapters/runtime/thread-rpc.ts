import { DependencyUnavailableError, isDependencyUnavailable } from '../../ports/failures.ts'

type Handlers = Record<string, (...args: never[]) => unknown>

type Message =
  | { kind: 'call'; id: number; method: string; args: unknown[] }
  | { kind: 'reply'; id: number; result: unknown }
  | { kind: 'fail'; id: number; error: SentError }
  | { kind: 'notice'; method: string; args: unknown[] }

/** An error as it crosses threads: what kind it was survives, so a dependency that is away stays one. */
interface SentError {
  message: string
  dependency: DependencyUnavailableError['dependency'] | null
}

/** A message port, or a Worker (which is one for the thread that made it). */
interface Port {
  postMessage(value: unknown): void
  on(event: 'message', listener: (value: Message) => void): unknown
  off(event: 'message', listener: (value: Message) => void): unknown
}

/**
 * Calls between two threads over a message port: each side serves `handlers` and calls the
 * other's by name. Arguments and results are structured-cloned; a thrown DependencyUnavailableError
 * arrives as one, anything else as an Error with its message.
 */
export function threadRpc<Remote extends Handlers>(port: Port, handlers: Handlers) {
  let nextId = 0
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  const listener = (message: Message) => {
    if (message.kind === 'call' || message.kind === 'notice') {
      const handler = handlers[message.method] as ((...args: unknown[]) => unknown) | undefined
      const answer = async () => {
        if (handler === undefined) throw new Error(`no handler for ${message.method}`)
        return handler(...message.args)
      }
      if (message.kind === 'notice') {
        answer().catch(() => {})
        return
      }
      answer().then(
        (result) => port.postMessage({ kind: 'reply', id: message.id, result } satisfies Message),
        (error: unknown) =>
          port.postMessage({ kind: 'fail', id: message.id, error: sent(error) } satisfies Message),
      )
      return
    }
    const pending = waiting.get(message.id)
    if (pending === undefined) return
    waiting.delete(message.id)
    if (message.kind === 'reply') pending.resolve(message.result)
    else pending.reject(received(message.error))
  }
  port.on('message', listener)
  return {
    call<M extends keyof Remote & string>(
      method: M,
      ...args: Parameters<Remote[M]>
    ): Promise<Awaited<ReturnType<Remote[M]>>> {
      const id = nextId++
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (value: unknown) => void, reject })
        port.postMessage({ kind: 'call', id, method, args } satisfies Message)
      })
    },
    /** A call whose answer nobody waits for. */
    notice<M extends keyof Remote & string>(method: M, ...args: Parameters<Remote[M]>): void {
      port.postMessage({ kind: 'notice', method, args } satisfies Message)
    },
    /** Fails every call still waiting (the other thread is gone) and stops listening. */
    close(reason: Error): void {
      port.off('message', listener)
      for (const pending of waiting.values()) pending.reject(reason)
      waiting.clear()
    },
  }
}

function sent(error: unknown): SentError {
  return {
    message: error instanceof Error ? error.message : String(error),
    dependency: isDependencyUnavailable(error) ? error.dependency : null,
  }
}

function received(error: SentError): Error {
  return error.dependency === null
    ? new Error(error.message)
    : new DependencyUnavailableError(error.dependency, error.message)
}
