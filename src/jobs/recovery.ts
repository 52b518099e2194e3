import { readFileSync } from 'node:fs';
import { HearthError } from '../errors/hearth-error.js';
import { reapOrphans } from '../host/reaper.js';
import type { SandboxLeases } from '../host/sandbox-leases.js';
import type { JobService } from './service.js';

export interface RecoveryReport {
  /** Jobs left running by a dead owner, now `error` INTERRUPTED. */
  interrupted: string[];
  /** Jobs left queued, queued again here. */
  requeued: string[];
  /** Sandboxes whose owner died, freed. */
  reaped: string[];
}

/** Is `pid` a live hearth (Node) process? A pid reused by something else counts as dead. */
function ownerAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /node|hearth/.test(cmdline);
  } catch {
    return false;
  }
}

/**
 * Run once at start-up, before serving: a job never goes missing. Jobs a dead owner left running
 * become INTERRUPTED errors (their sandbox is gone); queued jobs run again; orphaned sandboxes are reaped.
 */
export async function recoverJobs(
  service: JobService,
  opts: { leases?: SandboxLeases } = {},
): Promise<RecoveryReport> {
  const report: RecoveryReport = { interrupted: [], requeued: [], reaped: [] };
  report.reaped = (
    await reapOrphans(service.store.ledger, {
      ...(service.paths ? { paths: service.paths } : {}),
      ...(opts.leases ? { leases: opts.leases } : {}),
    })
  ).reaped;
  for (const u of await service.store.unfinished()) {
    if (u.status === 'running') {
      if (u.ownerPid !== null && u.ownerPid !== process.pid && ownerAlive(u.ownerPid)) continue;
      await service.fail(u.id, new HearthError('INTERRUPTED', 'the server stopped while this job ran'));
      report.interrupted.push(u.id);
      continue;
    }
    const job = await service.store.get(u.id);
    if (!job) continue;
    try {
      service.requeue(job);
      report.requeued.push(u.id);
    } catch (err) {
      await service.fail(u.id, err instanceof HearthError ? err : new HearthError('INTERNAL', String(err)));
    }
  }
  return report;
}
