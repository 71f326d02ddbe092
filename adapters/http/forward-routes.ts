import { Agent, request as httpRequest } from 'node:http'
import type { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { HttpError } from './errors.ts'

/**
 * Everything this server does not answer itself goes, as it came, to `target` (the main thread's
 * server on a loopback port) and the answer comes back as it is, streamed both ways: the capture
 * thread keeps the public port, and the API, flags, health and metrics stay with the thread that
 * holds their data.
 */
export async function forwardRoutes(app: FastifyInstance, deps: { target: string }): Promise<void> {
  const agent = new Agent({ keepAlive: true })
  app.addHook('onClose', async () => agent.destroy())
  app.removeAllContentTypeParsers()
  // the body stays a stream, to be piped on
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload))
  app.all('/*', (request, reply) => {
    reply.hijack()
    const forwardedFor = [request.headers['x-forwarded-for'], request.socket.remoteAddress]
      .filter((value) => typeof value === 'string' && value !== '')
      .join(', ')
    const upstream = httpRequest(
      new URL(request.url, deps.target),
      {
        method: request.method,
        agent,
        headers: { ...request.headers, ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
      },
      (answer) => {
        reply.raw.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(reply.raw)
      },
    )
    upstream.on('error', () => {
      if (reply.raw.headersSent) return reply.raw.destroy()
      const error = new HttpError('service_unavailable', 'sluice is starting or stopping; retry shortly.')
      reply.raw.writeHead(error.status, { 'content-type': 'application/json' })
      reply.raw.end(JSON.stringify({ type: error.type, code: error.code, detail: error.detail }))
    })
    const body = request.body as Readable | undefined
    if (body === undefined) upstream.end()
    else body.pipe(upstream)
  })
}
