import type { HearthPaths } from '../src/config/paths.js';
import { loadCatalog } from '../src/images/catalog.js';
import { jobsConfig } from '../src/jobs/config.js';
import { managerConfigFor } from '../src/jobs/service.js';
import { SandboxManager } from '../src/sandboxes/manager.js';
import { sessionsConfig } from '../src/sessions/config.js';
import { SessionService } from '../src/sessions/service.js';
import { SqliteStore } from '../src/store/sqlite-store.js';

/** A session service as `hearth serve` puts it together, on the database in `paths`, with no pool. */
export async function openSessionService(paths: HearthPaths, backend: string) {
  const store = await SqliteStore.open({ path: paths.db });
  const manager = new SandboxManager({
    config: { ...managerConfigFor(jobsConfig({})), defaultBackend: backend, poolSize: 0 },
    ledger: store.ledger,
    rows: store.sandboxes,
    paths,
  });
  const sessions = new SessionService({
    manager,
    store,
    catalog: loadCatalog(),
    config: sessionsConfig({}),
    paths,
  });
  await sessions.start();
  manager.start();
  return {
    sessions,
    async close() {
      await sessions.close();
      await manager.close();
      await store.close();
    },
  };
}
