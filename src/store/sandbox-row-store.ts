import type { SandboxSpec } from '../backends/backend.js';

/** Where a sandbox the manager holds is in its life. */
export type SandboxRowState = 'starting' | 'ready' | 'leased' | 'destroying';

/**
 * A sandbox as the manager records it. Its owner is the worker that renews `leaseUntilMs`: while
 * the lease is live (`nowMs < leaseUntilMs`) no other worker touches it; once it has passed, the
 * worker is taken for gone and any worker may claim the sandbox (see `claimSandbox`).
 */
export interface SandboxRow {
  id: string;
  backend: string;
  image: string;
  state: SandboxRowState;
  spec: SandboxSpec;
  ownerWorker: string;
  /** Epoch ms up to which the owner holds the sandbox. */
  leaseUntilMs: number;
  /** Epoch ms after which the manager frees the sandbox, or null for none. */
  expiresAtMs: number | null;
  labels: Record<string, string>;
  createdAtMs: number;
}

export type SandboxRowPatch = Partial<Pick<SandboxRow, 'state' | 'expiresAtMs' | 'labels' | 'leaseUntilMs'>>;

/**
 * The manager's sandbox rows. Async, and built from queries PostgreSQL runs as well, so several
 * workers can share one store. A store that cannot take writes throws STORE_FULL or STORE_UNAVAILABLE.
 */
export interface SandboxRowStore {
  insertSandbox(row: SandboxRow): Promise<void>;
  /** A row that is gone (released meanwhile) is not an error: nothing changes. */
  updateSandbox(id: string, patch: SandboxRowPatch): Promise<void>;
  deleteSandbox(id: string): Promise<void>;
  getSandbox(id: string): Promise<SandboxRow | undefined>;
  /** Oldest first. */
  listSandboxes(filter?: { ownerWorker?: string }): Promise<SandboxRow[]>;
  /** One statement: every row of the worker gets lease_until = untilMs. Returns rows touched. */
  renewLeases(workerId: string, untilMs: number): Promise<number>;
  /**
   * Rows whose lease passed (their worker is gone): the reaper's and a new owner's work list,
   * longest passed first. A lease is live while `nowMs < leaseUntilMs`.
   */
  expiredLeases(nowMs: number): Promise<SandboxRow[]>;
  /**
   * Takes over a sandbox whose lease has passed, in one statement, so two workers never both
   * adopt or free it. False when the lease is live (its owner renewed it, or another worker
   * claimed it first) or there is no row.
   */
  claimSandbox(
    id: string,
    claim: { workerId: string; nowMs: number; leaseUntilMs: number },
  ): Promise<boolean>;
}
