import type { SandboxSpec } from '../backends/backend.js';

export type SandboxRowState = 'starting' | 'ready' | 'leased' | 'destroying';

/** A sandbox as the store keeps it: who owns it, until when (the lease), and when it expires. */
export interface SandboxRow {
  id: string;
  backend: string;
  image: string;
  state: SandboxRowState;
  spec: SandboxSpec;
  /** The worker (a hearth process) that holds it and renews its lease. */
  ownerWorker: string;
  /** The owner renews this; once it passes, the owner is taken for dead and the sandbox for an orphan. */
  leaseUntilMs: number;
  expiresAtMs: number | null;
  labels: Record<string, string>;
  createdAtMs: number;
}

/** What the manager needs of the store's sandbox rows (an async port: PostgreSQL must satisfy it too). */
export interface SandboxRowsPort {
  insertSandbox(row: SandboxRow): Promise<void>;
  updateSandbox(
    id: string,
    patch: Partial<Pick<SandboxRow, 'state' | 'expiresAtMs' | 'labels' | 'leaseUntilMs'>>,
  ): Promise<void>;
  deleteSandbox(id: string): Promise<void>;
  /** Every row of the worker gets `leaseUntilMs = untilMs`, in one statement. */
  renewLeases(workerId: string, untilMs: number): Promise<number>;
}
