import { hearthPaths } from '../config/paths.js';
import { loadCatalog } from '../images/catalog.js';
import { jobsConfig } from '../jobs/config.js';
import { managerConfigFor } from '../jobs/service.js';
import { SandboxManager } from '../sandboxes/manager.js';
import { sessionsConfig } from '../sessions/config.js';
import { SessionService } from '../sessions/service.js';
import { SqliteStore } from '../store/sqlite-store.js';

export interface EmbeddedSessions {
  /** The service itself: a SessionsApi that also answers its sandboxes' guest calls (RLM runs). */
  api: SessionService;
  /** Ends every session this process made (sandboxes and snapshots freed), then the service. Idempotent. */
  close(): Promise<void>;
}

/**
 * The sessions service in this process, for `hearth mcp` without a server: the same SessionService
 * and SandboxManager as `hearth serve`, on an in-memory store. Its sessions live as long as the
 * process, so close() ends them all — nothing of them is left on the host.
 */
export async function openEmbeddedSessions(
  o: { onWarning?: (obj: object, msg: string) => void } = {},
): Promise<EmbeddedSessions> {
  const env = process.env;
  const paths = hearthPaths();
  const store = await SqliteStore.open({ path: ':memory:' });
  const manager = new SandboxManager({
    config: managerConfigFor(jobsConfig(env)),
    ledger: store.ledger,
    rows: store.sandboxes,
    paths,
    ...(o.onWarning ? { onWarning: o.onWarning } : {}),
  });
  const service = new SessionService({
    manager,
    store,
    catalog: loadCatalog(),
    config: sessionsConfig(env),
    paths,
    ...(o.onWarning ? { onWarning: o.onWarning } : {}),
  });
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      for (const s of await service.listSessions().catch(() => [])) {
        if (s.state !== 'ended') await service.deleteSession(s.id).catch(() => {});
      }
      await service.close();
      await manager.close();
      await store.close();
    })());
  try {
    await service.start();
    manager.start();
  } catch (err) {
    await close();
    throw err;
  }
  return { api: service, close };
}
