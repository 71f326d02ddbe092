import { TypeCompiler } from '@sinclair/typebox/compiler'
import { mintedUuids } from '../../domain/capture/normalise.ts'
import type { LogMessage, LogRecord } from '../../ports/log.ts'
import { CaptureRequestDecisions } from '../../schema/capture-request.ts'
import type { CaptureCommand } from '../../schema/command.ts'
import {
  buildCaptureCommands,
  type CaptureContext,
  captureToken,
  checkCaptureEvents,
  maxCommandBytes,
} from './build-commands.ts'
import { type DecodedCapture, decodePayload } from './decode-request.ts'
import { CaptureError } from './errors.ts'

/** The header of a request record that holds what capture decided, as JSON. */
export const decisionsHeader = 'capture'

// compiled once: the interpreted check took 1.9 % of the main thread end to end
const decisionsCheck = TypeCompiler.Compile(CaptureRequestDecisions)

/**
 * What capture appends for an accepted request: one record per request, its value the payload as
 * the SDK sent it (every wrapper taken off, not parsed again into anything), its `capture` header
 * what capture decided — the token, the time it arrived, the client IP or none, the first uuid it
 * minted (the others count up from it).
 * Everything per event that does not refuse the request is left for the split (commandsOfRequest),
 * off capture's path. Keyed by token, so a project's requests keep their order.
 *
 * Two rare cases are written otherwise: a project that anonymizes IPs and whose events carry an
 * `$ip` gets the events written again without it (the log is kept for ever); a payload so large a
 * record could pass the log's message limit is written in several records of whole events.
 */
export function captureRequestRecords(decoded: DecodedCapture, ctx: CaptureContext): LogRecord[] {
  const token = captureToken(decoded)
  const unsent = checkCaptureEvents(decoded)
  // only the first uuid minted for a record is written; the split counts the others up from it
  let counted: (() => string) | undefined
  const mint = () => {
    counted ??= mintedUuids(ctx.newUuid())
    return counted()
  }
  const decisions = (payload: string, path: string, mintedFrom: string | undefined): LogRecord => {
    const header: CaptureRequestDecisions = {
      token,
      path,
      now: ctx.now.toISOString(),
      ip: ctx.anonymizeIps === true ? null : ctx.ip,
      sent_at: decoded.sentAt,
    }
    if (mintedFrom !== undefined) header.minted_from = mintedFrom
    if (ctx.anonymizeIps !== undefined) header.anonymize_ips = ctx.anonymizeIps
    if (decoded.historicalMigration) header.historical_migration = true
    if (ctx.siteUrl !== undefined) header.site_url = ctx.siteUrl
    return { key: token, value: payload, headers: { [decisionsHeader]: JSON.stringify(header) } }
  }
  const clientIpInEvents = ctx.anonymizeIps === true && decoded.payload.includes('"$ip"')
  // 3 bytes per UTF-16 unit at most: most payloads are far below the limit without counting
  if (!clientIpInEvents && 3 * decoded.payload.length + 4096 <= maxCommandBytes)
    return [decisions(decoded.payload, decoded.path, unsent.includes(true) ? mint() : undefined)]

  // Whole events, written again (without the client's $ip where the project anonymizes), in records
  // under the limit; an event alone over it refuses the request, as it would in PostHog.
  const records: LogRecord[] = []
  let chunk: string[] = []
  let chunkMintedFrom: string | undefined
  let bytes = 0
  const flush = () => {
    if (chunk.length > 0) records.push(decisions(`[${chunk.join(',')}]`, '/batch', chunkMintedFrom))
    chunk = []
    chunkMintedFrom = undefined
    bytes = 0
  }
  for (const [i, event] of decoded.events.entries()) {
    const written = JSON.stringify(clientIpInEvents ? withoutClientIp(event) : event)
    const size = Buffer.byteLength(written)
    if (size + 4096 > maxCommandBytes)
      throw new CaptureError('payload_too_large', `An event is ${size} bytes, more than ${maxCommandBytes}.`)
    if (bytes + size + 4096 > maxCommandBytes) flush()
    chunk.push(written)
    bytes += size + 1
    if (unsent[i]) {
      // minted in the events' order whichever record they land in, as the split mints them
      const uuid = mint()
      chunkMintedFrom ??= uuid
    }
  }
  flush()
  return records
}

/**
 * The split: a request record back into PostHog's capture messages, one per event, exactly as
 * capture would have built them when it took the request (same uuids, times, IP decision).
 * Throws a CaptureError for a record that is not one (it goes to the dead letter queue).
 */
export function commandsOfRequest(message: Pick<LogMessage, 'value' | 'headers'>): CaptureCommand[] {
  const header = message.headers?.[decisionsHeader]
  if (header === undefined) throw new CaptureError('invalid_payload', 'the record has no capture decisions')
  let decisions: unknown
  try {
    decisions = JSON.parse(header)
  } catch {
    throw new CaptureError('invalid_payload', 'the capture decisions are not JSON')
  }
  if (!decisionsCheck.Check(decisions))
    throw new CaptureError('invalid_payload', 'the capture decisions are not of the known shape')
  const decoded: DecodedCapture = {
    ...decodePayload(message.value, decisions.path),
    batchToken: decisions.token,
    sentAt: decisions.sent_at,
    historicalMigration: decisions.historical_migration === true,
    requestToken: null,
  }
  const listed = [...(decisions.minted ?? [])]
  const counted = decisions.minted_from === undefined ? null : mintedUuids(decisions.minted_from)
  const ctx: CaptureContext = {
    now: new Date(decisions.now),
    ip: decisions.ip,
    newUuid: () => {
      const uuid = counted === null ? listed.shift() : counted()
      if (uuid === undefined)
        throw new CaptureError('invalid_payload', 'the record minted fewer uuids than it needs')
      return uuid
    },
  }
  if (decisions.anonymize_ips !== undefined) ctx.anonymizeIps = decisions.anonymize_ips
  if (decisions.site_url !== undefined) ctx.siteUrl = decisions.site_url
  return buildCaptureCommands(decoded, ctx).commands
}

function withoutClientIp(event: Record<string, unknown>): Record<string, unknown> {
  const properties = event.properties
  if (typeof properties !== 'object' || properties === null || !Object.hasOwn(properties, '$ip')) return event
  const { $ip: _ip, ...rest } = properties as Record<string, unknown>
  return { ...event, properties: rest }
}
