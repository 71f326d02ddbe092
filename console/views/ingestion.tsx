import { useState } from 'preact/hooks'
import { type Api, type ApiError, asApiError } from '../api/client.ts'
import type { DeadLetter, IngestionStatus, IngestionWarning, Page, Project } from '../api/types.ts'
import { ErrorNotice, Notice } from '../ui/notice.tsx'
import { usePoll } from '../ui/poll.ts'
import { Ago, Time } from '../ui/time.tsx'

const refreshMs = 3000

/** Is ingestion keeping up? Lag and the last error per consumer, dead letters, ingestion warnings. */
export function Ingestion(props: { api: Api; project: Project }) {
  const { api, project } = props
  const status = usePoll(() => api.get<IngestionStatus>('/api/ingestion_status/'), refreshMs, [])
  const letters = usePoll(
    () => api.get<Page<DeadLetter>>(`/api/projects/${project.id}/dead_letters/`),
    refreshMs,
    [project.id],
  )
  const warnings = usePoll(
    () => api.get<Page<IngestionWarning>>(`/api/projects/${project.id}/ingestion_warnings/`),
    refreshMs,
    [project.id],
  )
  return (
    <section aria-labelledby="view-title">
      <div class="view-head">
        <h1 id="view-title" tabIndex={-1}>
          Ingestion
        </h1>
        <p>
          <Ago at={status.updatedAt} prefix="updated" />
        </p>
      </div>
      <ErrorNotice error={status.error} what="The ingestion status could not be read" />
      {status.data && <Consumers status={status.data} />}
      <DeadLetters
        api={api}
        project={project}
        letters={letters.data?.results}
        error={letters.error}
        refresh={letters.refresh}
      />
      <section aria-labelledby="warnings-title">
        <h2 id="warnings-title">Ingestion warnings</h2>
        <ErrorNotice error={warnings.error} what="The ingestion warnings could not be read" />
        {warnings.data && <Warnings warnings={warnings.data.results} />}
      </section>
    </section>
  )
}

function Consumers(props: { status: IngestionStatus }) {
  const { status } = props
  const lag = status.consumers.reduce((sum, c) => sum + (c.lag ?? 0), 0)
  return (
    <section aria-labelledby="consumers-title">
      {status.stuck ? (
        <p class="notice error" role="alert">
          Ingestion is stuck: a consumer below cannot move until what it waits for is back.
        </p>
      ) : (
        <Notice>
          Ingestion is keeping up:{' '}
          {lag === 0 ? 'nothing is waiting.' : `${lag} messages are waiting to be processed.`}
        </Notice>
      )}
      <h2 id="consumers-title">Consumers</h2>
      <p class="muted">
        Roles of this process: {status.roles?.join(', ') ?? 'none'} · log {status.backends.log} · Postgres{' '}
        {status.backends.postgres} · ClickHouse {status.backends.clickhouse}
      </p>
      <div class="table-scroll">
        <table class="consumers">
          <caption class="visually-hidden">Lag per consumer group, topic and partition</caption>
          <thead>
            <tr>
              <th scope="col">Group</th>
              <th scope="col">Topic</th>
              <th scope="col" class="number">
                Partition
              </th>
              <th scope="col" class="number">
                End offset
              </th>
              <th scope="col" class="number">
                Committed
              </th>
              <th scope="col" class="number">
                Lag
              </th>
              <th scope="col">State</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {status.consumers.map((c) => (
              <tr key={`${c.group}/${c.topic}/${c.partition}`} class={c.stuck ? 'stuck' : undefined}>
                <td>{c.group}</td>
                <td>
                  <code>{c.topic}</code>
                </td>
                <td class="number">{c.partition ?? '?'}</td>
                <td class="number">{c.end_offset ?? '?'}</td>
                <td class="number">{c.committed_offset ?? '?'}</td>
                <td class="number lag">{c.lag ?? '?'}</td>
                <td>
                  {c.stuck ? <span class="badge bad">stuck</span> : <span class="badge good">ok</span>}
                  {c.failures > 0 && <span class="muted"> {c.failures} failures</span>}
                </td>
                <td>
                  {c.last_error ? (
                    <>
                      <code>{c.last_error.code}</code> {c.last_error.message ?? ''}{' '}
                      <span class="muted">
                        <Time iso={c.last_error.at} />
                      </span>
                    </>
                  ) : (
                    <span class="muted">none</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  )
}

function DeadLetters(props: {
  api: Api
  project: Project
  letters: DeadLetter[] | undefined
  error: ApiError | undefined
  refresh(): void
}) {
  const [replaying, setReplaying] = useState(false)
  const [outcome, setOutcome] = useState<{ replayed: number } | ApiError | undefined>(undefined)
  const replay = async (ids?: string[]) => {
    setReplaying(true)
    setOutcome(undefined)
    try {
      const result = await props.api.send<{ replayed: string[] }>(
        'POST',
        `/api/projects/${props.project.id}/dead_letters/replay/`,
        ids === undefined ? {} : { ids },
      )
      setOutcome({ replayed: result.replayed.length })
    } catch (error) {
      setOutcome(asApiError(error))
    }
    setReplaying(false)
    props.refresh()
  }
  const waiting = props.letters?.filter((l) => l.replayed_at === null).length ?? 0
  return (
    <section aria-labelledby="letters-title">
      <div class="view-head">
        <h2 id="letters-title">Dead letters</h2>
        {waiting > 1 && (
          <button type="button" disabled={replaying} onClick={() => replay()}>
            Replay the {waiting} not replayed
          </button>
        )}
      </div>
      <p class="muted">
        Events that could not be processed, set aside with the reason while their partition moved on.
        Replaying one sends it through ingestion again: fix the cause first, or it comes back as a new dead
        letter.
      </p>
      <ErrorNotice error={props.error} what="The dead letters could not be read" />
      {outcome !== undefined &&
        ('replayed' in outcome ? (
          <Notice>
            Replayed {outcome.replayed} dead {outcome.replayed === 1 ? 'letter' : 'letters'}: back in the
            command log, to be ingested again.
          </Notice>
        ) : (
          <ErrorNotice error={outcome} what="The replay failed" />
        ))}
      {props.letters &&
        (props.letters.length === 0 ? (
          <p class="muted">None: every event of this project was processed.</p>
        ) : (
          <div class="table-scroll">
            <table class="letters">
              <caption class="visually-hidden">Dead letters of this project, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Set aside</th>
                  <th scope="col">Step</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Event</th>
                  <th scope="col">Distinct id</th>
                  <th scope="col">Replay</th>
                </tr>
              </thead>
              <tbody>
                {props.letters.map((letter) => (
                  <tr key={letter.id}>
                    <td>
                      <Time iso={letter.created_at} />
                    </td>
                    <td>{letter.step}</td>
                    <td>
                      <details>
                        <summary>
                          <code>{letter.code ?? 'unknown'}</code>
                        </summary>
                        <p class="reason">{letter.reason}</p>
                      </details>
                    </td>
                    <td>{letter.event ?? '?'}</td>
                    <td>{letter.distinct_id ?? '?'}</td>
                    <td>
                      {letter.replayed_at === null ? (
                        <button
                          type="button"
                          class="secondary"
                          disabled={replaying}
                          aria-label={`Replay the dead letter of ${letter.event ?? 'an event'} from ${letter.distinct_id ?? 'an unknown id'}`}
                          onClick={() => replay([letter.id])}
                        >
                          Replay
                        </button>
                      ) : (
                        <span class="muted">
                          replayed <Time iso={letter.replayed_at} />
                        </span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
    </section>
  )
}

function Warnings(props: { warnings: readonly IngestionWarning[] }) {
  if (props.warnings.length === 0) return <p class="muted">None.</p>
  return (
    <div class="table-scroll">
      <table>
        <caption class="visually-hidden">Ingestion warnings, newest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Warning</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {props.warnings.map((warning, index) => (
            <tr key={index}>
              <td>
                <Time iso={warning.timestamp} />
              </td>
              <td>
                <code>{warning.type}</code>
              </td>
              <td>
                <code class="value">{JSON.stringify(warning.details)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
