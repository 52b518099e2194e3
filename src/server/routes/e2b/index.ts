import type { FastifyInstance } from 'fastify';
import type { SandboxTokens } from '../../../e2b/tokens.js';
import type { SessionService } from '../../../sessions/service.js';
import { e2bControlRoutes } from './control.js';
import { envdFilesRoutes } from './envd-files.js';
import { envdFilesystemRoutes } from './envd-fs.js';
import { envdProcessRoutes } from './envd-process.js';
import { useE2bRestShape } from './errors.js';
import { e2bInterpreterRoutes } from './interpreter.js';

export interface E2bRouteOptions {
  sessions: SessionService;
  tokens: SandboxTokens;
  /** The largest file an upload may send. */
  maxFileBytes: number;
}

/**
 * E2B's API on hearth's server: the control plane, and the sandbox plane (envd's Connect services
 * and `/files`, the code interpreter) that `installE2bPlane` routes by the `E2b-Sandbox-Id` header.
 * Each part is its own scope: Connect registers its own body parsers, which must not meet ours.
 */
export async function e2bRoutes(app: FastifyInstance, o: E2bRouteOptions): Promise<void> {
  await app.register(async (scope) => {
    useE2bRestShape(scope);
    await e2bControlRoutes(scope, o);
  });
  await app.register(async (scope) => envdProcessRoutes(scope, o));
  await app.register(async (scope) => envdFilesystemRoutes(scope, { sessions: o.sessions }));
  await app.register(async (scope) => envdFilesRoutes(scope, o));
  await app.register(async (scope) => {
    useE2bRestShape(scope);
    await e2bInterpreterRoutes(scope, o);
  });
}
