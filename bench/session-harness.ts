/**
 * The session stack as `hearth serve` puts it together (src/server/start.ts), without HTTP: a real
 * SQLite store in a temp dir, one SandboxManager, the SessionService over both. In-process, so the
 * figures are hearth's own cost above the backend; the HTTP API is measured on top of it apart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sandbox, SandboxBackend, SandboxSpec } from '../src/backends/backend.js';
import { type HearthPaths, hearthPaths } from '../src/config/paths.js';
import { loadCatalog } from '../src/images/catalog.js';
import { jobsConfig } from '../src/jobs/config.js';
import { managerConfigFor } from '../src/jobs/service.js';
import { SandboxManager } from '../src/sandboxes/manager.js';
import { sessionsConfig } from '../src/sessions/config.js';
import { SessionService } from '../src/sessions/service.js';
import { SqliteStore } from '../src/store/sqlite-store.js';

export const IMAGE = 'default';
/** What a session that names its resources gets (the sessions' default memory): no pooled sandbox. */
export const COLD = { memoryMb: 512 } as const;

export interface SessionHarness {
  paths: HearthPaths;
  manager: SandboxManager;
  service: SessionService;
  backend: SandboxBackend;
  /** Resolves once the pool holds a ready sandbox for pooled sessions on this backend. */
  poolReady(): Promise<void>;
  /** The spec pooled sandboxes are made with (the manager's pool spec). */
  poolSpec: SandboxSpec;
  /** A sandbox straight from the backend (no manager, no session), for the floors. @default COLD */
  rawSandbox(spec?: SandboxSpec): Promise<Sandbox>;
  /** Deletes every session, closes the service, the manager and the store, removes the temp dir. */
  close(): Promise<void>;
}

/** Session create → `true`'s result, in ms; the delete that follows is not counted. */
export async function createToFirst(h: SessionHarness, name: string, req: object): Promise<number> {
  const started = performance.now();
  const s = await h.service.createSession({ backend: name, ...req });
  const r = await h.service.runCommand(s.id, { argv: ['true'] });
  const took = performance.now() - started;
  if (r.exitCode !== 0) throw new Error(`true exited ${r.exitCode}: ${r.stderr}`);
  await h.service.deleteSession(s.id);
  return took;
}

/** The floor: the backend's own create → `true`'s result, no manager, store or session. */
export async function rawCreateToFirst(h: SessionHarness, spec?: SandboxSpec): Promise<number> {
  const started = performance.now();
  const sb = await h.rawSandbox(spec);
  try {
    await sb.agent.run({ argv: ['true'] });
    return performance.now() - started;
  } finally {
    await sb.destroy();
  }
}

/**
 * One stack for one backend. `qemuPool` sets the qemu backend's own warm pool (read when the
 * backend loads): 0 makes every create a template restore.
 */
export async function sessionHarness(
  backendName: string,
  opts: { qemuPool?: number } = {},
): Promise<SessionHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-sessions-'));
  const paths = { ...hearthPaths(), db: join(dir, 'hearth.db'), snapshots: join(dir, 'snapshots') };
  const store = await SqliteStore.open({ path: paths.db });
  const managerConfig = managerConfigFor({ ...jobsConfig(), defaultBackend: backendName });
  const manager = new SandboxManager({
    config: managerConfig,
    ledger: store.ledger,
    rows: store.sandboxes,
    paths,
  });
  const service = new SessionService({
    manager,
    store,
    catalog: loadCatalog(),
    config: { ...sessionsConfig(), maxSessions: 64 },
    paths,
  });
  const close = async () => {
    for (const s of await service.listSessions().catch(() => []))
      await service.deleteSession(s.id).catch(() => {});
    await service.close();
    await manager.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  };
  const before = process.env.HEARTH_QEMU_POOL;
  if (opts.qemuPool !== undefined) process.env.HEARTH_QEMU_POOL = String(opts.qemuPool);
  let backend: SandboxBackend;
  try {
    backend = (await manager.backends.get(backendName)).backend;
  } catch (err) {
    await close();
    throw err;
  } finally {
    if (before === undefined) delete process.env.HEARTH_QEMU_POOL;
    else process.env.HEARTH_QEMU_POOL = before;
  }
  await service.start();
  manager.start();
  const poolSpec: SandboxSpec = { ...managerConfig.poolSpec, image: IMAGE };
  const ownPool = backend as SandboxBackend & { poolReady?: (image: string, spec: object) => Promise<void> };
  let primed = false;
  return {
    paths,
    manager,
    service,
    backend,
    async poolReady() {
      // A backend with a pool of its own (qemu) refills it; for the others the manager's pool does.
      if (ownPool.poolReady) return ownPool.poolReady(IMAGE, poolSpec);
      // The manager's pool fills a (backend, image) only after its first pooled checkout.
      if (!primed) {
        primed = true;
        const labels = { bench: 'prime' };
        await (await manager.acquire({ image: IMAGE, labels, pooled: true, slot: 'long' })).release();
      }
      for (let waitedMs = 0; manager.pool.readyCount < 1; waitedMs += 5) {
        if (waitedMs > 60_000) throw new Error('the sandbox pool did not refill within 60 s');
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    poolSpec,
    rawSandbox: (spec = { image: IMAGE, ...COLD }) => backend.create(spec),
    close,
  };
}
