/**
 * Why a connection or a file failed, in the few words a person needs ("connection refused", "host
 * not found", "permission denied"), from whatever the driver raised: pg, kafkajs and fetch wrap the socket's error
 * differently (`cause`, `originalError`, an AggregateError's `errors`), so every wrapper is looked
 * through for the system error code underneath.
 */
export function reasonOf(error: unknown): string {
  for (const e of causesOf(error)) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && code in systemReasons) return systemReasons[code]!
  }
  for (const e of causesOf(error))
    if (e instanceof Error && /timed? ?out|timeout/i.test(e.message)) return 'no answer in time'
  const innermost = [...causesOf(error)].filter((e) => e instanceof Error).at(-1) as Error | undefined
  const message = innermost?.message || (error instanceof Error ? error.message : String(error))
  return message.split('\n')[0]!.slice(0, 200)
}

const systemReasons: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'no answer in time',
  EPIPE: 'connection closed',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
}

/** The error and everything it wraps, outermost first (depth-limited: causes can form cycles). */
export function* causesOf(error: unknown): Generator<object> {
  const queue: unknown[] = [error]
  for (let seen = 0; queue.length > 0 && seen < 20; seen++) {
    const e = queue.shift()
    if (typeof e !== 'object' || e === null) continue
    yield e
    const wrapper = e as { cause?: unknown; originalError?: unknown; errors?: unknown }
    queue.push(wrapper.cause, wrapper.originalError)
    if (Array.isArray(wrapper.errors)) queue.push(...wrapper.errors)
  }
}
