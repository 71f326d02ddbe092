import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { captureToken } from '../../commands/capture/build-commands.ts'
import { captureRequestRecords } from '../../commands/capture/capture-request.ts'
import { decodeCaptureRequest, maxBodyBytes } from '../../commands/capture/decode-request.ts'
import { CaptureError } from '../../commands/capture/errors.ts'
import {
  CaptureOverloadedError,
  type CommandIntake,
  UnknownTokenError,
} from '../../commands/intake/accept-commands.ts'
import { LogUnavailableError } from '../../ports/log.ts'
import type { CaptureMetrics } from '../metrics/metrics.ts'
import { clientIp } from './client-ip.ts'
import { allowAnyOrigin } from './cors.ts'
import { HttpError } from './errors.ts'
import { uuidV7 } from './uuid-v7.ts'

export const capturePaths = ['/e', '/capture', '/track', '/engage', '/batch', '/i/v0/e'] as const

export interface CaptureRouteDeps {
  intake: CommandIntake
  metrics: CaptureMetrics
  now?: () => Date
}

/**
 * PostHog's capture endpoints. Bodies are taken raw whatever their content type: capture decodes
 * them itself (gzip by magic bytes, form data, base64, lz64), as posthog-js does not label them.
 */
export async function captureRoutes(app: FastifyInstance, deps: CaptureRouteDeps): Promise<void> {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
  allowAnyOrigin(app)
  const now = deps.now ?? (() => new Date())

  for (const base of capturePaths) {
    for (const path of [base, `${base}/`]) {
      const handler = (request: FastifyRequest, reply: FastifyReply) =>
        handleCapture(request, reply, path, deps, now)
      app.route({ method: ['GET', 'POST'], url: path, bodyLimit: maxBodyBytes(path), handler })
      app.options(path, async () => '')
    }
  }
}

async function handleCapture(
  request: FastifyRequest,
  reply: FastifyReply,
  path: string,
  deps: CaptureRouteDeps,
  now: () => Date,
) {
  try {
    const query = firstValues(request.query)
    const decoded = decodeCaptureRequest({
      path,
      method: request.method === 'GET' ? 'GET' : 'POST',
      query,
      headers: {
        contentType: request.headers['content-type'],
        contentEncoding: headerValue(request.headers['content-encoding']),
      },
      body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
    })
    if (!decoded.allDiscarded) {
      const project = await deps.intake.projectOf(captureToken(decoded))
      const records = captureRequestRecords(decoded, {
        now: now(),
        ip: clientIp(request),
        anonymizeIps: project?.anonymizeIps,
        newUuid: () => uuidV7(),
        siteUrl: `${request.protocol}://${request.host}`,
      })
      await deps.intake.accept(records)
      deps.metrics.eventsAccepted(decoded.events.length)
    }
    if (query.beacon === '1') return reply.code(204).send()
    return reply.code(200).send({ status: 1 })
  } catch (error) {
    deps.metrics.requestRejected()
    throw captureHttpError(error)
  }
}

function captureHttpError(error: unknown): unknown {
  if (error instanceof CaptureError) return new HttpError(error.code, error.detail)
  if (error instanceof UnknownTokenError) return new HttpError('invalid_token', error.message)
  if (error instanceof CaptureOverloadedError || error instanceof LogUnavailableError)
    return new HttpError(
      'log_unavailable',
      'The event log cannot take events right now; nothing was accepted, retry.',
    )
  return error
}

export function firstValues(query: unknown): Record<string, string | undefined> {
  const values: Record<string, string | undefined> = {}
  if (typeof query !== 'object' || query === null) return values
  for (const [key, value] of Object.entries(query)) {
    const first = Array.isArray(value) ? value[0] : value
    if (typeof first === 'string') values[key] = first
  }
  return values
}

export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}
