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

const run = promisify(execFile);

export interface ReapOptions {
  paths?: HearthPaths;
  /**
   * Decides whether an owner still lives, from its pid and its start time where one was recorded.
   * @default the process with that pid started at that time; without a start time (records and
   * names from older hearth versions), a live hearth (Node) process with that pid
   */
  isOwnerAlive?: (pid: number, startTime?: string) => boolean;
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

function sweepDir(
  dir: string,
  isAlive: (pid: number, startTime?: string) => boolean,
  found: (name: string) => void,
): string[] {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((name) => {
    const owner = ownerOf(name);
    if (!owner || isSelf(owner.pid, owner.startTime) || isAlive(owner.pid, owner.startTime)) return false;
    found(name);
    return true;
  });
}

/**
 * Frees the sandboxes whose owning hearth process died: the ledger's records first (kill their
 * processes if they are still the same ones, remove cgroups, unmount, delete paths, drop the
 * record), then what is left under `<paths.run>` and the `hearth/` cgroups, named by sandbox ids
 * whose owner is dead (see sandbox-id.ts). An owner is identified by pid and start time, so a
 * process that reused a dead owner's pid does not keep its sandboxes. Never touches a live owner's
 * sandboxes.
 */
export async function reapOrphans(
  ledger: SandboxLedger,
  opts: ReapOptions = {},
): Promise<{ reaped: string[] }> {
  const paths = opts.paths ?? hearthPaths();
  const isAlive = opts.isOwnerAlive ?? ownerAlive;
  const reaped = new Set<string>();
  for (const rec of ledger.list()) {
    if (isSelf(rec.ownerPid, rec.ownerStartTime) || isAlive(rec.ownerPid, rec.ownerStartTime)) continue;
    await freeRecord(rec);
    ledger.remove(rec.id);
    reaped.add(rec.id);
  }
  for (const name of sweepDir(paths.run, isAlive, (n) => reaped.add(n))) {
    const dir = join(paths.run, name);
    for (const m of mountsUnder(dir)) await unmount(m);
    if (!mountsUnder(dir).length) rmSync(dir, { recursive: true, force: true });
  }
  // Every hierarchy's parent, not only the ones hearth's own groups use: runsc makes its groups
  // under each v1 controller.
  for (const parent of existingCgroupParents(paths.cgroupRoot)) {
    for (const name of sweepDir(parent, isAlive, (n) => reaped.add(n)))
      await removeCgroupDir(join(parent, name));
  }
  return { reaped: [...reaped] };
}
