import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { TeamSettings } from '../../domain/ingest/decide-event.ts'
import { type PipelineEvent, parseCommand } from '../../domain/ingest/pipeline-event.ts'
import type { LogMessage } from '../../ports/log.ts'
import { CaptureCommand } from '../../schema/command.ts'
import type { SetAside } from '../../schema/dead-letter.ts'
import type { Fact } from '../../schema/facts.ts'
import type { TokenCache } from '../projects/token-cache.ts'

/**
 * What a step made of one event: go on with a value, set the event aside for the dead letter
 * queue, or drop it as a rule says (an app returned nothing), with the ingestion warnings that say
 * so. A dependency that is away is not a result but a thrown DependencyUnavailableError: the batch
 * waits for it instead of losing events to the queue.
 */
export type StepResult<T> =
  | { kind: 'ok'; value: T }
  | { kind: 'set_aside'; setAside: SetAside }
  | { kind: 'drop'; warnings: Fact[] }

const ok = <T>(value: T): StepResult<T> => ({ kind: 'ok', value })
const setAside = <T>(step: string, code: SetAside['code'], reason: string): StepResult<T> => ({
  kind: 'set_aside',
  setAside: { step, code, reason },
})

/** An event ready for the batch's transaction: parsed, its project known, its apps run. */
export interface PreparedEvent {
  message: LogMessage
  team: TeamSettings
  event: PipelineEvent
  /** Ingestion warnings of the steps before the transaction (an app that failed on it). */
  warnings?: Fact[]
}

const captureCommandCheck = TypeCompiler.Compile(CaptureCommand)

/** The command record as the event ingestion works on (PostHog's capture message, rebuilt). */
export function createParseCommandStep(): (message: LogMessage) => StepResult<PipelineEvent> {
  return (message) => {
    let json: unknown
    try {
      json = JSON.parse(message.value)
    } catch (error) {
      return setAside('parse', 'command_unreadable', `command is not JSON: ${(error as Error).message}`)
    }
    if (!captureCommandCheck.Check(json)) {
      const first = captureCommandCheck.Errors(json).First()
      return setAside(
        'parse',
        'command_unreadable',
        `command does not match the capture message schema: ${first?.path} ${first?.message}`,
      )
    }
    const parsed = parseCommand(json)
    return parsed.ok ? ok(parsed.event) : setAside('parse', 'command_unreadable', parsed.reason)
  }
}

/** The project the event's token belongs to, with the settings ingest decides by. */
export function createResolveProjectStep(deps: {
  tokens: TokenCache
}): (event: PipelineEvent) => Promise<StepResult<TeamSettings>> {
  return async (event) => {
    const project = await deps.tokens.resolve(event.token)
    if (project === null)
      return setAside('resolve_project', 'unknown_token', `no project has the token ${event.token}`)
    return ok({ teamId: project.id, anonymizeIps: project.anonymizeIps })
  }
}
