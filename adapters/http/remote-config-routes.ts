import type { FastifyInstance } from 'fastify'
import type { TokenCache } from '../../commands/projects/token-cache.ts'
import { allowAnyOrigin } from './cors.ts'
import { httpErrors } from './errors.ts'

export interface RemoteConfigDeps {
  tokens: TokenCache
  /** Whether the project has any active feature flag (false suppresses posthog-js's /flags call). */
  hasFeatureFlags(projectId: number): Promise<boolean>
}

/**
 * The config posthog-js reads on load, from remote config and from /decide (and /flags with
 * `config=true`). It keeps gzip bodies only when the config lists them, starts autocapture only
 * once config arrived, and fetches /static/surveys.js if a `surveys` key is present at all — so
 * there is none. `hasFeatureFlags: false` makes it skip its /flags call.
 */
export function remoteConfig(token: string, hasFeatureFlags: boolean) {
  return {
    token,
    supportedCompression: ['gzip', 'gzip-js'],
    hasFeatureFlags,
    autocapture_opt_out: false,
    elementsChainAsString: true,
    capturePerformance: false,
    autocaptureExceptions: false,
    sessionRecording: false,
    heatmaps: false,
    siteApps: [],
    defaultIdentifiedOnly: true,
    config: { enable_collect_everything: true },
  }
}

/** What posthog-js loads before anything else: the config above, as JSON or as a script. */
export async function remoteConfigRoutes(app: FastifyInstance, deps: RemoteConfigDeps): Promise<void> {
  allowAnyOrigin(app)
  const configFor = async (token: string) => {
    // With Postgres unreachable a default config keeps posthog-js capturing; only a token known to be
    // unknown is refused.
    const project = await deps.tokens.resolve(token).catch(() => deps.tokens.cached(token))
    if (project === null) throw httpErrors.notFound('Project token')
    const hasFeatureFlags = project ? await deps.hasFeatureFlags(project.id).catch(() => false) : false
    return remoteConfig(token, hasFeatureFlags)
  }
  for (const path of ['/array/:token/config', '/array/:token/config/']) {
    app.get<{ Params: { token: string } }>(path, async (request) => configFor(request.params.token))
    app.options(path, async () => '')
  }
  app.get<{ Params: { token: string } }>('/array/:token/config.js', async (request, reply) => {
    const config = await configFor(request.params.token)
    const token = JSON.stringify(request.params.token)
    reply.header('content-type', 'application/javascript; charset=utf-8')
    return `(function () {
  window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {};
  window._POSTHOG_REMOTE_CONFIG[${token}] = { config: ${JSON.stringify(config)}, siteApps: [] };
})();
`
  })
  app.options('/array/:token/config.js', async () => '')
}
