import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type HearthPaths, hearthPaths } from '../config/paths.js';
import { SandboxTokens } from '../e2b/tokens.js';
import { HearthError } from '../errors/hearth-error.js';
import { githubConfig } from '../github/config.js';
import { githubWebhookParts } from '../github/from-env.js';
import { type JobsConfig, jobsConfig } from '../jobs/config.js';
import { type RecoveryReport, recoverJobs } from '../jobs/recovery.js';
import { JobService, managerConfigFor } from '../jobs/service.js';
import { LearningService, learningConfig } from '../learning/service.js';
import { rlmConfig } from '../rlm/config.js';
import { RlmService } from '../rlm/service.js';
import { SandboxManager } from '../sandboxes/manager.js';
import { endDeadLocalLeases } from '../sandboxes/worker-id.js';
import { sessionsConfig } from '../sessions/config.js';
import { SessionService } from '../sessions/service.js';
import { reaperLeases } from '../store/reaper-leases.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { snapshotMode } from '../workflows/runs/workflow-runs.js';
import { buildApp } from './app.js';
import { isLoopback } from './browser-guard.js';
import { ServerMetrics } from './metrics.js';
import { workflowServerParts } from './workflow-parts.js';

export interface ServeOptions {
  /** `HEARTH_HOST`; @default 127.0.0.1 */
  host?: string;
  /** `HEARTH_PORT`; 0 picks a free port. @default 8080 */
  port?: number;
  /** `HEARTH_TOKENS` (comma-separated); required on a non-loopback host. */
  tokens?: string[];
  /** Host names a token-less server answers to besides loopback ones. `HEARTH_ALLOWED_HOSTS` (comma-separated); @default [] */
  allowedHosts?: string[];
  paths?: HearthPaths;
  /** The job service's settings. @default jobsConfig(process.env) */
  config?: JobsConfig;
  /** How long running jobs may finish at shutdown. `HEARTH_SHUTDOWN_GRACE_MS`; @default 10000 */
  shutdownGraceMs?: number;
  /** pino options or false. @default { level: HEARTH_LOG_LEVEL ?? 'info' } */
  logger?: boolean | object;
}

export interface RunningServer {
  app: FastifyInstance;
  service: JobService;
  sessions: SessionService;
  /** Where every sandbox comes from; its `events` report every exec. */
  manager: SandboxManager;
  /** The command knowledge graph, recording every exec the manager reports. */
  learning: LearningService;
  url: string;
  recovery: RecoveryReport;
  /** Stops accepting, lets running jobs finish (up to the grace period), closes everything. Idempotent. */
  close(): Promise<void>;
}

const list = (raw: string | undefined): string[] =>
  (raw ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);

function positiveInt(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new HearthError('VALIDATION_FAILED', `${name}=${raw} must be a positive integer`, {
      hint: `Fix or unset ${name}.`,
    });
  return n;
}

export function tokensFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return list(env.HEARTH_TOKENS);
}

/** `hearth serve`: the store, recovery of unfinished jobs and orphaned sandboxes, then the HTTP API. */
export async function startServer(opts: ServeOptions = {}): Promise<RunningServer> {
  const env = process.env;
  const host = opts.host ?? env.HEARTH_HOST ?? '127.0.0.1';
  const port = opts.port ?? (env.HEARTH_PORT ? Number(env.HEARTH_PORT) : 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new HearthError('VALIDATION_FAILED', `port ${port} is not a valid TCP port`);
  }
  const tokens = opts.tokens ?? tokensFromEnv(env);
  if (!tokens.length && !isLoopback(host)) {
    throw new HearthError('UNAUTHORIZED', `refusing to listen on ${host} without HEARTH_TOKENS`, {
      hint: 'Set HEARTH_TOKENS=<token>[,<token>…] to serve beyond loopback, or bind a loopback address (127.0.0.1, ::1, localhost).',
    });
  }
  const paths = opts.paths ?? hearthPaths();
  // Settings are checked before anything is opened, so a bad one leaves nothing behind.
  const workflowSnapshots = snapshotMode(undefined, env);
  const store = await SqliteStore.open({ path: paths.db });
  const metrics = new ServerMetrics();
  const graceMs = opts.shutdownGraceMs ?? Number(env.HEARTH_SHUTDOWN_GRACE_MS ?? 10_000);
  let service: JobService | undefined;
  let sessions: SessionService | undefined;
  let app: FastifyInstance | undefined;
  const config = opts.config ?? jobsConfig(env);
  // One manager for every service: the slots, the pool and the sandbox rows are shared.
  const manager = new SandboxManager({
    config: managerConfigFor(config),
    ledger: store.ledger,
    rows: store.sandboxes,
    paths,
    onSandboxAllocated: (s) => metrics.sandboxAllocated(s),
    onWarning: (obj, msg) => app?.log.warn(obj, msg),
  });
  const learning = new LearningService({
    store: store.learning,
    config: learningConfig(env),
    onWarning: (obj, msg) => app?.log.warn(obj, msg),
  });
  const workflows = workflowServerParts({
    store: store.workflowRuns,
    manager,
    stateDir: paths.state,
    snapshots: workflowSnapshots,
    metrics,
    env,
    onWarning: (obj, msg) => app?.log.warn(obj, msg),
  });
  const github = githubWebhookParts({
    config: githubConfig(env),
    store: store.github,
    launcher: workflows.launcher,
    onWarning: (obj, msg) => app?.log.warn(obj, msg),
  });
  try {
    await learning.start(manager.events);
    service = new JobService({ store, config, paths, metrics, manager, inputGate: learning });
    sessions = new SessionService({
      manager,
      store,
      catalog: service.catalog,
      config: sessionsConfig(env),
      paths,
      inputGate: learning,
      onWarning: (obj, msg) => app?.log.warn(obj, msg),
    });
    metrics.watch(service);
    const rlm = new RlmService({
      sessions,
      store: store.rlm,
      config: rlmConfig(env),
      validator: learning,
      ...(learning.config.defaultStrictness ? { defaultStrictness: learning.config.defaultStrictness } : {}),
      onWarning: (obj, msg) => app?.log.warn(obj, msg),
    });
    app = await buildApp({
      service,
      sessions,
      learning,
      rlm,
      github,
      workflowRuns: workflows.routes,
      ...(env.HEARTH_MAX_FILE_BYTES
        ? { maxFileBytes: positiveInt('HEARTH_MAX_FILE_BYTES', env.HEARTH_MAX_FILE_BYTES) }
        : {}),
      metrics,
      tokens,
      sandboxTokens: await SandboxTokens.open(join(paths.state, 'e2b-secret')),
      allowedHosts: opts.allowedHosts ?? list(env.HEARTH_ALLOWED_HOSTS),
      logger: opts.logger ?? { level: env.HEARTH_LOG_LEVEL ?? 'info' },
    });
    Object.assign(service, { log: app.log });
    // A crashed server's sandboxes are freed now, not once their leases would have passed.
    await endDeadLocalLeases(store.sandboxes);
    const recovery = await recoverJobs(service, {
      leases: reaperLeases(store.sandboxes, { workerId: manager.workerId }),
    });
    await sessions.start();
    manager.start();
    // Deliveries a stopped server acknowledged but did not handle.
    await workflows.start();
    await github.dispatcher?.resume();
    service.retention.start();
    void service.backends.default().catch(() => {});
    await app.listen({ host, port }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EADDRINUSE') throw err;
      throw new HearthError('VALIDATION_FAILED', `${host}:${port} is already in use`, {
        hint: 'Choose another port with --port or HEARTH_PORT (0 picks any free one), or stop what listens there.',
        cause: err,
      });
    });
    const addr = app.server.address();
    const actualPort = typeof addr === 'object' && addr ? addr.port : port;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
    const s = service;
    const ss = sessions;
    const a = app;
    let closing: Promise<void> | undefined;
    return {
      app,
      service,
      sessions,
      manager,
      learning,
      url,
      recovery,
      close: () =>
        (closing ??= (async () => {
          const stopping = a.close();
          workflows.stop();
          await github.dispatcher?.close();
          await ss.close();
          await s.close({ graceMs });
          await manager.close();
          await learning.close();
          // Every service has finished: what is still connected carries nothing that matters. A
          // client may hold a connection it never sent a request on (undici opens spares); Node
          // waits for such a one's headers timeout (a minute) unless it is ended here.
          a.server.closeAllConnections();
          await stopping;
          await store.close();
        })()),
    };
  } catch (err) {
    await app?.close().catch(() => {});
    workflows.stop();
    await github.dispatcher?.close().catch(() => {});
    await sessions?.close().catch(() => {});
    await service?.close({ graceMs: 0 }).catch(() => {});
    await manager.close().catch(() => {});
    await learning.close().catch(() => {});
    await store.close();
    throw err;
  }
}
