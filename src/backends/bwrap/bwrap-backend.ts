import { type HearthPaths, hearthPaths } from '../../config/paths.js';
import { CgroupPool, detectCgroups } from '../../host/cgroups.js';
import { MemoryLedger } from '../../host/ledger.js';
import { requireImage } from '../../images/store.js';
import { ensureTools } from '../../images/tools.js';
import type { BackendOptions, Capability, SandboxBackend, SandboxSpec } from '../backend.js';
import { restoreWritableFiles } from '../shared/fs-snapshot.js';
import { probeBwrap } from './bwrap-probe.js';
import { bwrapRunOnce, type RunOnceContext } from './bwrap-run-once.js';
import { UidPool } from './uid-pool.js';

/** How long a resolved image and tools layer are reused before they are looked up again. */
const CONTEXT_TTL_MS = 1000;

/**
 * The bwrap backend: Linux namespaces (user, pid, net, ipc, uts, cgroup) via bubblewrap, the image
 * read-only, size-limited tmpfs for /work and /tmp, each sandbox in its own host cgroups and its own
 * unprivileged host uid. `create` starts the guest agent on the sandbox's stdio; `runOnce` runs
 * programs directly under the exec shim for one-shot jobs. Snapshots are of /work and /tmp
 * (shared/fs-snapshot.ts).
 */
export function createBwrapBackend(opts: BackendOptions & { bwrap?: string } = {}): SandboxBackend {
  const paths: HearthPaths = opts.paths ?? hearthPaths();
  const ledger = opts.ledger ?? new MemoryLedger();
  const uids = new UidPool();
  const cgroups = new CgroupPool({ prefix: 'bwrap' });
  const bwrap = opts.bwrap ?? process.env.HEARTH_BWRAP ?? 'bwrap';

  // The image and tools lookups cost a few file reads; one-shot jobs come by the hundred per second.
  const recent = new Map<string, { ctx: RunOnceContext; atMs: number }>();
  async function context(spec: SandboxSpec): Promise<RunOnceContext> {
    const hit = recent.get(spec.image);
    if (hit && performance.now() - hit.atMs < CONTEXT_TTL_MS) return hit.ctx;
    const image = requireImage(spec.image, { paths });
    const tools = await ensureTools({ paths });
    const ctx = { paths, ledger, uids, cgroups, bwrap, rootfs: image.rootfs, tools };
    recent.set(spec.image, { ctx, atMs: performance.now() });
    return ctx;
  }

  return {
    name: 'bwrap',
    probe: () => probeBwrap({ paths, bwrap }),
    capabilities(): readonly Capability[] {
      const caps: Capability[] = ['namespace-isolation', 'one-shot', 'fs-snapshots'];
      if (detectCgroups().mode !== 'none') caps.push('cgroup-limits');
      return caps;
    },
    async create(spec, createOpts) {
      // Loaded on first use: the one-shot path never needs the agent client.
      const { startBwrapSandbox } = await import('./bwrap-sandbox.js');
      return startBwrapSandbox(await context(spec), spec, createOpts?.signal);
    },
    async restore(snap, spec, restoreOpts) {
      const { startBwrapSandbox } = await import('./bwrap-sandbox.js');
      return restoreWritableFiles({
        backend: 'bwrap',
        snap,
        signal: restoreOpts?.signal,
        create: async () => startBwrapSandbox(await context(spec), spec, restoreOpts?.signal),
      });
    },
    async runOnce(spec, req) {
      return bwrapRunOnce(await context(spec), spec, req);
    },
    /** Removes the idle cgroups kept for one-shot runs. */
    close: () => cgroups.close(),
  };
}
