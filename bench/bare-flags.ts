/**
 * The flags benchmark's baseline: a bare fastify server that parses the same JSON request and
 * answers a static body of the size sluice's /flags answer has (RESPONSE_BYTES).
 */
import Fastify from 'fastify'

const size = Number(process.env.RESPONSE_BYTES ?? 1000)
const body = JSON.stringify({ flags: {}, padding: 'x'.repeat(Math.max(0, size - 25)) })
const app = Fastify({ logger: false })
app.post('/flags/', async (request, reply) => {
  if (typeof request.body !== 'object' || request.body === null) throw new Error('expected a JSON body')
  return reply.type('application/json').send(body)
})
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
const address = app.server.address()
console.log(`listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`)
