/**
 * A SandboxManager on bwrap over a real SQLite store, with no warm pool: what the workflow tests run
 * their sandboxes on.
 */
import { join } from 'node:path';
import { hearthPaths } from '../src/config/paths.js';
import { jobsConfig } from '../src/jobs/config.js';
import { managerConfigFor } from '../src/jobs/service.js';
import { SandboxManager } from '../src/sandboxes/manager.js';
import type { SqliteStore } from '../src/store/sqlite-store.js';

/** A manager on `store` (bwrap, no pool; `slots` bounds its short slots). */
export function bwrapManager(store: SqliteStore, dir: string, slots?: number): SandboxManager {
  const config = managerConfigFor({ ...jobsConfig(), defaultBackend: 'bwrap' });
  return new SandboxManager({
    config: { ...config, poolSize: 0, ...(slots ? { slots } : {}) },
    ledger: store.ledger,
    rows: store.sandboxes,
    paths: { ...hearthPaths(), db: join(dir, 'hearth.db'), snapshots: join(dir, 'snapshots') },
  });
}
