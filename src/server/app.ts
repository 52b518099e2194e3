import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { SandboxTokens } from '../e2b/tokens.js';
import type { JobService } from '../jobs/service.js';
import type { LearningService } from '../learning/service.js';
import type { SessionService } from '../sessions/service.js';
import { installAuth } from './auth.js';
import { installBrowserGuard } from './browser-guard.js';
import { installErrorHandling } from './errors.js';
import type { ServerMetrics } from './metrics.js';
import { classicRoutes } from './routes/classic.js';
import { e2bRoutes } from './routes/e2b/index.js';
import { installE2bPlane } from './routes/e2b/plane.js';
import { type GitHubWebhookRouteOptions, githubWebhookRoutes } from './routes/github-webhook.js';
import { interactiveRoute } from './routes/interactive.js';
import { jobRoutes } from './routes/jobs.js';
import { learningRoutes } from './routes/learning.js';
import { mcpRoutes } from './routes/mcp.js';
import { pistonRoutes } from './routes/piston.js';
import { sessionFileRoutes } from './routes/session-files.js';
import { snapshotRoutes } from './routes/session-snapshots.js';
import { sessionSocketRoute } from './routes/session-socket.js';
import { sessionRoutes } from './routes/sessions.js';
import { systemRoutes } from './routes/system.js';
import { type WorkflowRunRoutesOptions, workflowRunRoutes } from './routes/workflow-runs.js';

export interface AppOptions {
  service: JobService;
  /** Sessions; without it the sessions routes are not served. */
  sessions?: SessionService;
  /** The command knowledge graph; without it /v1/learning/* and /v1/validate are not served. */
  learning?: LearningService;
  metrics: ServerMetrics;
  /** Bearer tokens; empty = no auth. */
  tokens?: readonly string[];
  /** Host names a token-less server answers to besides loopback ones (`HEARTH_ALLOWED_HOSTS`). @default [] */
  allowedHosts?: readonly string[];
  /** The largest file a session upload may send. `HEARTH_MAX_FILE_BYTES`; @default 256 MiB */
  maxFileBytes?: number;
  /** The secret behind E2B sandboxes' access tokens. @default one made for this process */
  sandboxTokens?: SandboxTokens;
  /** The GitHub webhook's secret and dispatcher; without them the webhook route answers 503. @default {} */
  github?: GitHubWebhookRouteOptions;
  /** Workflow runs' records; without them /v1/runs is not served. */
  workflowRuns?: WorkflowRunRoutesOptions;
  /** pino options, or false for none. @default false */
  logger?: boolean | object;
}

/** The HTTP API on a job service. Does not listen: `app.listen()` or `app.inject()`. */
export async function buildApp(o: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: o.logger ?? false,
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // The largest regular body; routes with code set their own limit.
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.removeContentTypeParser('text/plain');
  installErrorHandling(app);
  installAuth(app, o.tokens ?? []);
  if (!o.tokens?.length) installBrowserGuard(app, { allowedHosts: o.allowedHosts ?? [] });
  const sandboxTokens = o.sandboxTokens ?? SandboxTokens.ephemeral();
  if (o.sessions) installE2bPlane(app, { sessions: o.sessions, tokens: sandboxTokens });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'hearth',
        version: process.env.HEARTH_VERSION ?? '0.1.0',
        description: 'Run code in isolated sandboxes',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: o.tokens?.length ? [{ bearer: [] }] : [],
    },
  });
  const bodyLimit = o.service.config.maxCodeBytes * 2 + 1024 * 1024;
  // A WebSocket message is at most one job request (`init`); ws closes with 1009 past it.
  await app.register(websocket, { options: { maxPayload: bodyLimit } });
  await app.register(jobRoutes, { service: o.service, bodyLimit });
  await app.register(classicRoutes, { service: o.service, bodyLimit });
  await app.register(pistonRoutes, { service: o.service, bodyLimit });
  await app.register(systemRoutes, {
    service: o.service,
    languages: o.service.languages,
    metrics: o.metrics,
  });
  await app.register(async (scope) => interactiveRoute(scope, o.service));
  if (o.learning) await app.register(learningRoutes, { learning: o.learning });
  await app.register(githubWebhookRoutes, o.github ?? {});
  if (o.workflowRuns) await app.register(workflowRunRoutes, o.workflowRuns);
  if (o.sessions) {
    await app.register(sessionRoutes, { api: o.sessions });
    await app.register(sessionFileRoutes, {
      api: o.sessions,
      maxFileBytes: o.maxFileBytes ?? 256 * 1024 * 1024,
    });
    await app.register(snapshotRoutes, { api: o.sessions });
    await app.register(mcpRoutes, { api: o.sessions });
    const sessions = o.sessions;
    await app.register(async (scope) => sessionSocketRoute(scope, sessions));
    await app.register(e2bRoutes, {
      sessions,
      tokens: sandboxTokens,
      maxFileBytes: o.maxFileBytes ?? 256 * 1024 * 1024,
    });
  }
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
