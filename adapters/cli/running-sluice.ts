import type { SluiceConfig } from '../runtime/config.ts'
import { dataDirHolder } from '../runtime/data-dir-lock.ts'
import { type BackendNeeds, embeddedParts } from '../runtime/open-backends.ts'

/** The sluice process serving a data dir, reached through the control token of its lock file. */
export interface RunningSluiceClient {
  url: string
  get<T>(path: string): Promise<T>
  post<T>(path: string, body: unknown): Promise<T>
}

export class RunningSluiceError extends Error {
  override readonly name = 'RunningSluiceError'
}

/**
 * The process that holds the data dir, when one does and serves HTTP, and the command needs what is
 * in it: commands that must not open the data dir beside it (PGlite, chDB and the embedded log take
 * one process each) act through it.
 */
export function runningSluice(config: SluiceConfig, needs: BackendNeeds): RunningSluiceClient | null {
  if (embeddedParts(config, needs).length === 0) return null
  const holder = dataDirHolder(config.dataDir)
  if (holder?.url === undefined || holder.controlToken === undefined) return null
  const { url, controlToken } = holder
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let response: Response
    try {
      response = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${controlToken}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      })
    } catch (error) {
      throw new RunningSluiceError(
        `sluice (process ${holder.pid}) holds ${config.dataDir} but does not answer at ${url}: ${(error as Error).message}`,
      )
    }
    const answer = (await response.json().catch(() => ({}))) as { detail?: string }
    if (!response.ok)
      throw new RunningSluiceError(
        `sluice at ${url} answered ${response.status}: ${answer.detail ?? response.statusText}`,
      )
    return answer as T
  }
  return {
    url,
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
  }
}
