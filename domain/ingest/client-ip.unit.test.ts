import { describe, expect, it } from 'vitest'
import type { CaptureCommand } from '../../schema/command.ts'
import { emptyIdentityState } from '../identity/state.ts'
import { decideEvent } from './decide-event.ts'
import { parseCommand } from './pipeline-event.ts'

const socketIp = '203.0.113.9'
const clientIp = '198.51.100.9'

function command(properties: Record<string, unknown>, fields: Partial<CaptureCommand>): CaptureCommand {
  return {
    uuid: '0190a1b2-c3d4-7e5f-8a9b-000000000001',
    distinct_id: 'user-1',
    ip: socketIp,
    data: JSON.stringify({ event: 'viewed', properties }),
    now: '2026-01-01T00:00:00.000Z',
    token: 'phc_test',
    timestamp: '2026-01-01T00:00:00.000Z',
    ...fields,
  }
}

/** The `$ip` of the event ingest decides for a command, with the project's setting at that time. */
function ingestedIp(captured: CaptureCommand, projectAnonymizesNow: boolean): unknown {
  const parsed = parseCommand(captured)
  if (!parsed.ok) throw new Error(parsed.reason)
  const { facts } = decideEvent(
    emptyIdentityState(),
    { teamId: 2, anonymizeIps: projectAnonymizesNow },
    parsed.event,
  )
  const ingested = facts.find((fact) => fact.type === 'event_ingested')
  if (ingested?.type !== 'event_ingested') throw new Error('the event was not ingested')
  return Object.hasOwn(ingested.event.properties, '$ip') ? ingested.event.properties.$ip : 'absent'
}

describe("an event's $ip follows what capture decided, whatever the project's setting is by ingest or replay", () => {
  it.each([
    ['capture kept the IP', {}, { anonymize_ips: false }, true, socketIp],
    ['capture kept the client $ip', { $ip: clientIp }, { anonymize_ips: false }, true, clientIp],
    ['capture anonymized', {}, { ip: null, anonymize_ips: true }, false, 'absent'],
    // a command no sluice capture writes (another producer), still never shown with an IP
    ['capture anonymized, an $ip left in', { $ip: clientIp }, { anonymize_ips: true }, false, 'absent'],
    ['capture could not decide, the project anonymizes', { $ip: clientIp }, {}, true, 'absent'],
    ['capture could not decide, the project does not', {}, {}, false, socketIp],
  ])('%s', (_case, properties, fields, projectAnonymizesNow, expected) => {
    expect(ingestedIp(command(properties, fields), projectAnonymizesNow)).toBe(expected)
  })
})
