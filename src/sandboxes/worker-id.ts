import { hostname } from 'node:os';
import { isRunning, ownStartTime } from '../host/sandbox-id.js';
import type { SandboxRowStore } from '../store/sandbox-row-store.js';

/**
 * A worker's id: its host, pid and the process's start time. Another worker on the same host can
 * tell from it alone whether the owner still runs, without waiting for its lease to pass.
 */
export function ownWorkerId(): string {
  return `${hostname()}:${process.pid}:${ownStartTime() ?? '0'}`;
}

/** True only when `workerId` names a process of this host that no longer runs. */
export function isDeadLocalWorker(workerId: string): boolean {
  const [host, pid, startTime] = workerId.split(':');
  if (host !== hostname() || !pid || !/^\d+$/.test(pid)) return false;
  return !isRunning(Number(pid), startTime && startTime !== '0' ? startTime : undefined);
}

/**
 * Ends the leases of sandboxes whose owner was a worker of this host that is gone (a crashed
 * server), so the reaper frees them now rather than when their lease would have passed. Leases of
 * other hosts' workers are left to run out. Returns how many were ended.
 */
export async function endDeadLocalLeases(
  rows: Pick<SandboxRowStore, 'listSandboxes' | 'updateSandbox'>,
): Promise<number> {
  let n = 0;
  for (const row of await rows.listSandboxes()) {
    if (row.leaseUntilMs > 0 && isDeadLocalWorker(row.ownerWorker)) {
      await rows.updateSandbox(row.id, { leaseUntilMs: 0 });
      n++;
    }
  }
  return n;
}
