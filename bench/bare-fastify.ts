/**
 * The capture benchmark's baseline: a bare fastify server that only parses the same JSON bodies
 * and answers 200 — what any HTTP front door costs before it does anything useful.
 */
import Fastify from 'fastify'

const app = Fastify({ logger: false, bodyLimit: 20 * 1024 * 1024 })
const handler = async (request: { body: unknown }) => {
  if (typeof request.body !== 'object' || request.body === null) throw new Error('expected a JSON body')
  return { status: 1 }
}
for (const path of ['/e/', '/batch/']) app.post(path, handler)
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
const address = app.server.address()
console.log(`listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`)
