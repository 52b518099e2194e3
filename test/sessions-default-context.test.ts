/**
 * A session's default Python context on real bwrap sandboxes, through the SessionService over a
 * real manager and SQLite store: it keeps state between runs, and when its interpreter died or the
 * agent no longer knows it, the next run without a `context` gets a live default again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hearthPaths } from '../src/config/paths.js';
import { loadCatalog } from '../src/images/catalog.js';
import { jobsConfig } from '../src/jobs/config.js';
import { managerConfigFor } from '../src/jobs/service.js';
import { SandboxManager } from '../src/sandboxes/manager.js';
import { sessionsConfig } from '../src/sessions/config.js';
import { SessionService } from '../src/sessions/service.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { settledLeftovers } from './leak-check.js';

let dir: string;
let store: SqliteStore;
let manager: SandboxManager;
let service: SessionService;
let skip: string | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-default-context-'));
  const paths = { ...hearthPaths(), db: join(dir, 'hearth.db'), snapshots: join(dir, 'snapshots') };
  store = await SqliteStore.open({ path: paths.db });
  manager = new SandboxManager({
    config: managerConfigFor({ ...jobsConfig(), defaultBackend: 'bwrap' }),
    ledger: store.ledger,
    rows: store.sandboxes,
    paths,
  });
  service = new SessionService({ manager, store, catalog: loadCatalog(), config: sessionsConfig({}), paths });
  const probe = (await manager.backends.default()).probe;
  if (!probe.usable) skip = probe.reason;
});

afterAll(async () => {
  await service?.close();
  await manager?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
  expect(await settledLeftovers({ settleMs: 3000 })).toEqual([]);
});

describe('default interpreter context', () => {
  it('keeps state, and comes back after its interpreter died or the agent lost it', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const s = await service.createSession({ memoryMb: 512 });
    try {
      const first = await service.runCode(s.id, { code: 'x = 41' });
      const kept = await service.runCode(s.id, { code: 'x + 1' });
      expect(kept.context).toBe(first.context);
      expect(kept.result?.text).toBe('42');

      const died = await service.runCode(s.id, { code: 'import os; os._exit(3)' });
      expect(died.contextLost).toBe(true);
      // The same context, restarted: a fresh interpreter without `x`.
      const restarted = await service.runCode(s.id, { code: "'x' in globals()" });
      expect(restarted.context).toBe(first.context);
      expect(restarted.result?.text).toBe('False');
      expect(restarted.error).toBeNull();

      // The agent forgets the context behind the session's back: a new default is made.
      const sandbox = manager.get(s.sandboxId ?? '');
      await sandbox?.repl.deleteContext(first.context);
      const fresh = await service.runCode(s.id, { code: '6 * 7' });
      expect(sandbox).toBeDefined();
      expect(fresh.context).not.toBe(first.context);
      expect(fresh.result?.text).toBe('42');
      expect((await service.listContexts(s.id)).map((c) => c.id)).toEqual([fresh.context]);
    } finally {
      await service.deleteSession(s.id);
    }
  });
});
