import type { LeaseClaim, SandboxLeases } from '../host/sandbox-leases.js';
import type { SandboxRowStore } from './sandbox-row-store.js';

export interface ReaperLeasesOptions {
  /** The worker the reaper claims sandboxes for (the manager's own worker id). */
  workerId: string;
  /** How long a claim holds a sandbox while the reaper frees it. @default 60000 */
  claimForMs?: number;
  /** @default Date.now */
  nowMs?: () => number;
}

/**
 * The reaper's view of the manager's sandbox rows (see host/sandbox-leases.ts): a passed lease is
 * claimed in one conditional update, so a sandbox that another worker renews or adopts meanwhile
 * is never freed from under it.
 */
export function reaperLeases(rows: SandboxRowStore, opts: ReaperLeasesOptions): SandboxLeases {
  const now = opts.nowMs ?? Date.now;
  const claimForMs = opts.claimForMs ?? 60_000;
  return {
    async claimIfExpired(id: string): Promise<LeaseClaim> {
      const nowMs = now();
      const claim = { workerId: opts.workerId, nowMs, leaseUntilMs: nowMs + claimForMs };
      if (await rows.claimSandbox(id, claim)) return 'claimed';
      return (await rows.getSandbox(id)) ? 'live' : 'none';
    },
    release: (id: string) => rows.deleteSandbox(id),
  };
}
