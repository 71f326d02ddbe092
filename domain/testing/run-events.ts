import type { Fact } from '../../schema/facts.ts'
import { emptyIdentityState, type IdentityState, personOf } from '../identity/state.ts'
import { decideBatch } from '../ingest/decide-batch.ts'
import type { EventDecision } from '../ingest/decide-event.ts'
import type { PipelineEvent } from '../ingest/pipeline-event.ts'

export const teamId = 2

/** A deterministic, valid event uuid for the n-th event of a test. */
export function eventUuid(n: number): string {
  return `0190a1b2-c3d4-7e5f-8a9b-${n.toString(16).padStart(12, '0')}`
}

/** An event as ingest sees it after parsing; the n-th event is one second after the (n-1)-th. */
export function pipelineEvent(
  n: number,
  event: string,
  distinctId: string,
  properties: Record<string, unknown> = {},
): PipelineEvent {
  const timestamp = new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString()
  return {
    uuid: eventUuid(n),
    event,
    distinctId,
    token: 'phc_test',
    properties,
    timestamp,
    ip: null,
    now: timestamp,
    sentAt: null,
    historicalMigration: false,
    timestampWarnings: [],
  }
}

export interface Run {
  state: IdentityState
  decisions: EventDecision[]
  facts: Fact[]
  /** The person a distinct id belongs to at the end, if any. */
  personOf(distinctId: string): ReturnType<typeof personOf>
  factsOf<T extends Fact['type']>(type: T): Extract<Fact, { type: T }>[]
}

/** Decides each event against the state the facts before it built, with ingest's own fold. */
export function runEvents(events: readonly PipelineEvent[], state = emptyIdentityState()): Run {
  const decisions: EventDecision[] = []
  for (const event of events) {
    const { facts, outcomes } = decideBatch(state, [{ team: { teamId, anonymizeIps: false }, event }])
    const outcome = outcomes[0]!
    if (typeof outcome === 'object') throw outcome.failed
    decisions.push({ outcome, facts })
  }
  const facts = decisions.flatMap((d) => d.facts)
  return {
    state,
    decisions,
    facts,
    personOf: (distinctId) => personOf(state, teamId, distinctId),
    factsOf: <T extends Fact['type']>(type: T) =>
      facts.filter((f): f is Extract<Fact, { type: T }> => f.type === type),
  }
}
