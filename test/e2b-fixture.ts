import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hearthPaths } from '../src/config/paths.js';
import { type RunningServer, type ServeOptions, startServer } from '../src/server/start.js';

/**
 * A real hearth server on port 0 (real SQLite, real sandboxes of `backend`) with its own state
 * dir, and the three variables the published E2B SDKs read pointed at it: E2B_API_URL,
 * E2B_SANDBOX_URL and E2B_API_KEY. Nothing else configures the SDK.
 */
export async function startE2bServer(
  o: { backend?: string; apiKey?: string; serve?: ServeOptions } = {},
): Promise<{ server: RunningServer; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-e2b-'));
  const before = process.env.HEARTH_BACKEND;
  process.env.HEARTH_BACKEND = o.backend ?? 'bwrap';
  const server = await startServer({
    port: 0,
    paths: { ...hearthPaths(), state: dir, db: join(dir, 'hearth.db'), snapshots: join(dir, 'snapshots') },
    logger: false,
    shutdownGraceMs: 0,
    ...o.serve,
  });
  process.env.E2B_API_URL = server.url;
  process.env.E2B_SANDBOX_URL = server.url;
  process.env.E2B_API_KEY = o.apiKey ?? 'e2b_local';
  return {
    server,
    close: async () => {
      await server.close();
      if (before === undefined) delete process.env.HEARTH_BACKEND;
      else process.env.HEARTH_BACKEND = before;
      for (const k of ['E2B_API_URL', 'E2B_SANDBOX_URL', 'E2B_API_KEY']) delete process.env[k];
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
