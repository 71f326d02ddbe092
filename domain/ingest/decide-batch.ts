import type { Fact } from '../../schema/facts.ts'
import { evolveIdentity } from '../identity/evolve.ts'
import type { IdentityState } from '../identity/state.ts'
import { decideEvent, type TeamSettings } from './decide-event.ts'
import type { PipelineEvent } from './pipeline-event.ts'

export interface BatchEvent {
  team: TeamSettings
  event: PipelineEvent
}

/** What became of one event of the batch; `failed` holds what deciding it threw. */
export type BatchOutcome = 'ingested' | 'dropped' | { failed: unknown }

export interface BatchDecision {
  facts: Fact[]
  /** One per event, in the batch's order. */
  outcomes: BatchOutcome[]
}

/**
 * Decides a batch's events in order, each against the state the facts before it built; `state` is
 * evolved in place. An event whose decision throws (a defect, never a rule of PostHog's) adds no
 * facts and leaves the state as it was, so the rest of the batch is decided as if it were not
 * there and the caller can set it aside — ingest, replay, tests and the benchmark share this fold.
 */
export function decideBatch(state: IdentityState, events: readonly BatchEvent[]): BatchDecision {
  const facts: Fact[] = []
  const outcomes: BatchOutcome[] = []
  for (const { team, event } of events) {
    let decided: ReturnType<typeof decideEvent>
    try {
      decided = decideEvent(state, team, event)
    } catch (error) {
      outcomes.push({ failed: error })
      continue
    }
    for (const fact of decided.facts) {
      evolveIdentity(state, fact)
      facts.push(fact)
    }
    outcomes.push(decided.outcome)
  }
  return { facts, outcomes }
}
