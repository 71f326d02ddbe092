import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { bundleConsoleScript, type ConsoleAsset, consoleFile } from './console-bundle.ts'
import { httpErrors } from './errors.ts'

/**
 * What the browser may do on a console page: load this origin's script, style and icon, and call this
 * origin's API — nothing from anywhere else, so the console works offline and an event property that
 * looks like markup can never load or run anything.
 */
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

/** The files the page loads, by the name it asks for them under `/console/assets/`. */
const assets: Record<string, () => Promise<ConsoleAsset>> = {
  'console.js': bundleConsoleScript,
  'console.css': () => consoleFile('console.css', 'text/css; charset=utf-8'),
  'icon.svg': () => consoleFile('icon.svg', 'image/svg+xml'),
}
const page = () => consoleFile('index.html', 'text/html; charset=utf-8')

/**
 * The operator console: `/` and every path under `/console/` answer the same page, which shows the
 * view its URL names; its assets are made once per process. It reads and changes nothing itself: the
 * page calls the query and admin API with the personal API key its user types in.
 */
export async function consoleRoutes(app: FastifyInstance): Promise<void> {
  const made = new Map<string, Promise<ConsoleAsset>>()
  const once = (name: string, make: () => Promise<ConsoleAsset>) => {
    let pending = made.get(name)
    if (pending === undefined) {
      pending = make()
      // a failure is not kept: the next request tries again
      pending.catch(() => made.delete(name))
      made.set(name, pending)
    }
    return pending
  }

  const answerPage = async (request: FastifyRequest, reply: FastifyReply) =>
    send(request, reply, await once('index.html', page))
  app.get('/', answerPage)
  app.get('/console', answerPage)
  app.get('/console/*', answerPage)

  app.get<{ Params: { name: string } }>('/console/assets/:name', async (request, reply) => {
    const make = Object.hasOwn(assets, request.params.name) ? assets[request.params.name] : undefined
    if (make === undefined) throw httpErrors.notFound(`Console asset ${request.params.name}`)
    return send(request, reply, await once(request.params.name, make))
  })
}

function send(request: FastifyRequest, reply: FastifyReply, asset: ConsoleAsset) {
  reply
    .header('content-security-policy', contentSecurityPolicy)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    // revalidated on every load, so a new release is picked up at once and an unchanged one costs a 304
    .header('cache-control', 'no-cache')
    .header('etag', asset.etag)
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send()
  return reply.type(asset.contentType).send(asset.body)
}
