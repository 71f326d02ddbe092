import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/**
 * posthog-js runs on other sites than the api host: capture, flags and remote config answer any
 * origin and their preflights (PostHog mirrors the origin and allows credentials; so do we).
 */
export function allowAnyOrigin(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    setCorsHeaders(request, reply)
    if (request.method === 'OPTIONS') {
      const requested = request.headers['access-control-request-headers']
      reply
        .header('access-control-allow-methods', 'GET, POST, OPTIONS')
        .header('access-control-allow-headers', typeof requested === 'string' ? requested : 'content-type')
        .header('access-control-max-age', '86400')
        .code(200)
        .send()
    }
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
