import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { type HearthPaths, hearthPaths } from '../config/paths.js';
import { existingCgroupParents } from './cgroup-detect.js';
import { removeCgroupDir } from './cgroups.js';
import type { SandboxLedger, SandboxRecord } from './ledger.js';
import { isHearthProcess, isRunning, ownerOf, ownStartTime } from './sandbox-id.js';
import type { LeaseClaim, SandboxLeases } from './sandbox-leases.js';

const run = promisify(execFile);

export interface ReapOptions {
  paths?: HearthPaths;
  /**
   * Decides whether an owner still lives, from its pid and its start time where one was recorded.
   * @default the process with that pid started at that time; without a start time (records and
   * names from older hearth versions), a live hearth (Node) process with that pid
   */
  isOwnerAlive?: (pid: number, startTime?: string) => boolean;
  /**
   * The sandbox manager's leases: a sandbox whose row has a live lease is left alone, one whose
   * lease has passed is freed (its row dropped) whether or not its creator's pid lives; a
   * sandbox without a row falls back to the pid rule.
   * @default no leases: the pid rule alone
   */
  leases?: SandboxLeases;
}

function ownerAlive(pid: number, startTime?: string): boolean {
  if (startTime !== undefined) return isRunning(pid, startTime);
  return isRunning(pid) && isHearthProcess(pid);
}

/** Whether the owner is this very process: its sandboxes are never reaped from under it. */
function isSelf(pid: number, startTime?: string): boolean {
  return pid === process.pid && (startTime === undefined || startTime === ownStartTime());
}

/** Mount points at or below `prefix`, deepest first. */
export function mountsUnder(prefix: string): string[] {
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[4]?.replace(/\\040/g, ' ');
    if (mp && (mp === prefix || mp.startsWith(`${prefix}/`))) out.push(mp);
  }
  return out.sort((a, b) => b.length - a.length);
}

/** Unmounts `target` (lazily, so a busy mount still goes). Resolves false if it is still mounted. */
export async function unmount(target: string): Promise<boolean> {
  if (!mountsUnder(target).includes(target)) return true;
  try {
    await run('umount', ['-l', target]);
  } catch {}
  return !mountsUnder(target).includes(target);
}

/** Kills the record's processes that are still the same processes (start time matches); waits up to 2 s for them to go. */
async function killRecorded(rec: SandboxRecord): Promise<void> {
  const live = rec.pids.filter(({ pid, startTime }) => isRunning(pid, startTime));
  for (const { pid } of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  for (let i = 0; i < 100 && live.some(({ pid, startTime }) => isRunning(pid, startTime)); i++)
    await sleep(20);
}

/** Frees everything a record names. Safe to repeat. */
export async function freeRecord(rec: SandboxRecord): Promise<void> {
  await killRecorded(rec);
  for (const cg of rec.cgroups) await removeCgroupDir(cg);
  for (const m of [...rec.mounts].sort((a, b) => b.length - a.length)) await unmount(m);
  for (const p of rec.paths) {
    if (mountsUnder(p).length) continue; // never delete through a mount that would not go
    rmSync(p, { recursive: true, force: true });
  }
}

/** Decides, per sandbox id, what may be freed: by lease where the id has a row, else by its owner's life. */
class Verdicts {
  /** Ids whose passed lease this call claimed: their rows are released once all is freed. */
  readonly claimed = new Set<string>();
  readonly #leases: SandboxLeases | undefined;
  readonly #isAlive: (pid: number, startTime?: string) => boolean;

  constructor(leases: SandboxLeases | undefined, isAlive: (pid: number, startTime?: string) => boolean) {
    this.#leases = leases;
    this.#isAlive = isAlive;
  }

  async mayFree(id: string, owner: { pid: number; startTime?: string }): Promise<boolean> {
    // A process never reaps its own sandboxes from under itself.
    if (isSelf(owner.pid, owner.startTime)) return false;
    if (this.claimed.has(id)) return true;
    const lease = await this.#lease(id);
    if (lease === 'claimed') this.claimed.add(id);
    if (lease !== 'none') return lease === 'claimed';
    return !this.#isAlive(owner.pid, owner.startTime);
  }

  async #lease(id: string): Promise<LeaseClaim> {
    if (!this.#leases) return 'none';
    try {
      return await this.#leases.claimIfExpired(id);
    } catch {
      // A store that cannot answer now: leave the sandbox to a later pass rather than free one a
      // live worker may hold.
      return 'live';
    }
  }
}

async function sweepDir(dir: string, verdicts: Verdicts): Promise<string[]> {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names) {
    const owner = ownerOf(name);
    if (owner && (await verdicts.mayFree(name, owner))) out.push(name);
  }
  return out;
}

/**
 * Frees the sandboxes whose owner is gone: the ledger's records first (kill their processes if
 * they are still the same ones, remove cgroups, unmount, delete paths, drop the record), then what
 * is left under `<paths.run>` and the `hearth/` cgroups, named by sandbox ids (see sandbox-id.ts).
 * With `leases`, a sandbox the manager has a row for is owned by its lease: a live lease keeps
 * it, a passed one frees it and drops the row. Otherwise its owner is the hearth process named by
 * pid and start time, so a process that reused a dead owner's pid does not keep its sandboxes.
 * Never touches a live owner's sandboxes, nor this process's own.
 */
export async function reapOrphans(
  ledger: SandboxLedger,
  opts: ReapOptions = {},
): Promise<{ reaped: string[] }> {
  const paths = opts.paths ?? hearthPaths();
  const verdicts = new Verdicts(opts.leases, opts.isOwnerAlive ?? ownerAlive);
  const reaped = new Set<string>();
  for (const rec of ledger.list()) {
    if (!(await verdicts.mayFree(rec.id, { pid: rec.ownerPid, startTime: rec.ownerStartTime }))) continue;
    await freeRecord(rec);
    ledger.remove(rec.id);
    reaped.add(rec.id);
  }
  for (const name of await sweepDir(paths.run, verdicts)) {
    reaped.add(name);
    const dir = join(paths.run, name);
    for (const m of mountsUnder(dir)) await unmount(m);
    if (!mountsUnder(dir).length) rmSync(dir, { recursive: true, force: true });
  }
  // Every hierarchy's parent, not only the ones hearth's own groups use: runsc makes its groups
  // under each v1 controller.
  for (const parent of existingCgroupParents(paths.cgroupRoot)) {
    for (const name of await sweepDir(parent, verdicts)) {
      reaped.add(name);
      await removeCgroupDir(join(parent, name));
    }
  }
  for (const id of verdicts.claimed) {
    try {
      await opts.leases?.release(id);
    } catch {
      // The row stays, claimed: once the claim passes it is on the manager's list of expired
      // leases again, with nothing left on the host to free.
    }
  }
  return { reaped: [...reaped] };
}
