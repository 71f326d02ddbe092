import type { FastifyRequest } from 'fastify'

/** PostHog's rule: the leftmost X-Forwarded-For address, else the socket's peer. */
export function clientIp(request: FastifyRequest): string | null {
  const forwarded = request.headers['x-forwarded-for']
  const header = Array.isArray(forwarded) ? forwarded[0] : forwarded
  const first = header?.split(',')[0]?.trim()
  if (first) return first
  const remote = request.socket.remoteAddress ?? null
  return remote?.startsWith('::ffff:') ? remote.slice(7) : remote
}
