import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/**
 * posthog-js runs on other sites than the api host: capture, flags and remote config answer any
 * origin and their preflights (PostHog mirrors the origin and allows credentials; so do we).
 */
export function allowAnyOrigin(app: FastifyInstance): void {
  // A callback hook, not an async one: it runs on every capture and flags request, and a promise
  // per request is measurable there.
  app.addHook('onRequest', (request, reply, done) => {
    setCorsHeaders(request, reply)
    if (request.method !== 'OPTIONS') return done()
    const requested = request.headers['access-control-request-headers']
    reply
      .header('access-control-allow-methods', 'GET, POST, OPTIONS')
      .header('access-control-allow-headers', typeof requested === 'string' ? requested : 'content-type')
      .header('access-control-max-age', '86400')
      .code(200)
      .send()
  })
}

function setCorsHeaders(request: FastifyRequest, reply: FastifyReply): void {
  const origin = request.headers.origin
  if (typeof origin === 'string' && origin !== '' && origin !== 'null') {
    reply
      .header('access-control-allow-origin', origin)
      .header('access-control-allow-credentials', 'true')
      .header('vary', 'Origin')
  } else {
    reply.header('access-control-allow-origin', '*')
  }
}
