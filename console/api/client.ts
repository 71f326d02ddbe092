/** An answer of the API that is not a success, as sluice words it: `{type, code, detail}`. */
export class ApiError extends Error {
  override readonly name = 'ApiError'
  constructor(
    /** The HTTP status; 0 when sluice did not answer at all. */
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(detail)
  }
}

export interface Api {
  get<T>(path: string): Promise<T>
  send<T>(method: 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T>
}

/**
 * The query and admin API with the personal API key. A refused key (401) is reported to
 * `onRefused` as well as thrown, so the console can ask for a key again wherever it happens.
 */
export function createApi(key: string, onRefused: (error: ApiError) => void = () => {}): Api {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const headers: Record<string, string> = { authorization: `Bearer ${key}` }
    if (body !== undefined) headers['content-type'] = 'application/json'
    let response: Response
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    } catch {
      throw new ApiError(
        0,
        'unreachable',
        'sluice is not answering; is it running? The console keeps trying.',
      )
    }
    if (response.status === 204) return undefined as T
    const text = await response.text()
    if (response.ok) return JSON.parse(text) as T
    const error = errorOf(response.status, text)
    if (error.status === 401) onRefused(error)
    throw error
  }
  return {
    get: (path) => call('GET', path),
    send: (method, path, body) => call(method, path, body),
  }
}

function errorOf(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as { code?: unknown; detail?: unknown }
    if (typeof body.code === 'string' && typeof body.detail === 'string')
      return new ApiError(status, body.code, body.detail)
  } catch {
    // not sluice's JSON: a proxy in between, or no sluice at all
  }
  return new ApiError(status, `http_${status}`, `The server answered ${status} without saying why.`)
}

export function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(0, 'console_error', String(error))
}

/** A query string (`?a=1&b=x`) of the values that are set, or nothing when none is. */
export function query(values: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(values))
    if (value !== undefined && value !== '') params.set(name, String(value))
  const text = params.toString()
  return text === '' ? '' : `?${text}`
}
