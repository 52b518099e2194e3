/**
 * What the reaper asks of the sandbox manager's rows, where a sandbox is owned by a worker's
 * renewed lease rather than by a local pid. The store implements it (store/reaper-leases.ts);
 * host/ never imports the store.
 *
 * - `live`: a worker holds the sandbox; it is never reaped, whatever its creator's pid says.
 * - `claimed`: its lease had passed and the caller now holds it (in one statement, so no other
 *   worker adopts or frees it meanwhile), to free it and then `release` the row.
 * - `none`: no row (a qemu warm-pool VM, a one-shot run): the owner's pid and start time decide.
 */
export type LeaseClaim = 'live' | 'claimed' | 'none';

export interface SandboxLeases {
  claimIfExpired(sandboxId: string): Promise<LeaseClaim>;
  /** Drops the row of a claimed sandbox once everything it held is freed. */
  release(sandboxId: string): Promise<void>;
}
