import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { hearthPaths } from '../src/config/paths.js';
import { ownerPidOf } from '../src/host/sandbox-id.js';

/**
 * What hearth processes left on the host: cgroups, run dirs and mounts named by their sandbox ids
 * (`<backend>-<owner pid>-<hex>`, pooled cgroups `<backend>-<owner pid>-pool<n>`), and sandbox
 * processes (bwrap, runsc, qemu, hearth-exec) that descend from this process or name an owner's
 * sandbox on their command line.
 */
export interface LeakCheckOptions {
  /** The hearth processes whose resources are checked. @default [process.pid] */
  ownerPids?: number[];
  /** The run dir the owners used. @default hearthPaths().run */
  runDir?: string;
}

const CGROUP_ROOT = process.env.HEARTH_CGROUP_ROOT || '/sys/fs/cgroup';
const CONTROLLERS = ['', 'memory', 'pids', 'cpuacct', 'cpu,cpuacct', 'unified'];
const SANDBOX_COMMANDS = new Set(['bwrap', 'runsc', 'runsc-gofer', 'runsc-sandbox', 'hearth-exec']);

function names(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function ownedBy(owners: Set<number>) {
  return (name: string) => {
    const owner = ownerPidOf(name);
    return owner !== undefined && owners.has(owner);
  };
}

function cgroups(owners: Set<number>): string[] {
  const seen = new Set<string>();
  for (const ctl of CONTROLLERS) {
    const parent = join(CGROUP_ROOT, ctl, 'hearth');
    if (!existsSync(parent)) continue;
    for (const n of names(parent).filter(ownedBy(owners))) seen.add(`cgroup ${join(parent, n)}`);
  }
  return [...seen];
}

function runDirs(owners: Set<number>, runDir: string): string[] {
  return names(runDir)
    .filter(ownedBy(owners))
    .map((n) => `run dir ${join(runDir, n)}`);
}

function mounts(owners: Set<number>, runDir: string): string[] {
  const owned = ownedBy(owners);
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((mp) => mp.startsWith(`${runDir}/`) && owned(mp.slice(runDir.length + 1).split('/')[0] ?? ''))
    .map((mp) => `mount ${mp}`);
}

interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  state: string;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const rest = stat.slice(close + 2).split(' ');
    return {
      pid,
      comm: stat.slice(stat.indexOf('(') + 1, close),
      state: rest[0] ?? '',
      ppid: Number(rest[1]),
    };
  } catch {
    return undefined;
  }
}

function isSandboxCommand(comm: string): boolean {
  return SANDBOX_COMMANDS.has(comm) || comm.startsWith('qemu-system');
}

function processes(owners: Set<number>): string[] {
  const all = new Map<number, Proc>();
  for (const n of names('/proc')) {
    const pid = Number(n);
    if (!Number.isInteger(pid)) continue;
    const p = readProc(pid);
    if (p) all.set(pid, p);
  }
  const roots = new Set([process.pid, ...owners]);
  const descends = (p: Proc): boolean => {
    for (let cur: Proc | undefined = p, i = 0; cur && i < 64; cur = all.get(cur.ppid), i++)
      if (roots.has(cur.ppid)) return true;
    return false;
  };
  const marks = [...owners].map((o) => new RegExp(`[a-z]+-${o}-[0-9a-z]+`));
  const out: string[] = [];
  for (const p of all.values()) {
    if (!isSandboxCommand(p.comm) || p.state === 'Z' || p.state === 'X') continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (descends(p) || marks.some((m) => m.test(cmd))) out.push(`process ${p.pid} ${cmd.slice(0, 160)}`);
  }
  return out;
}

/** Everything the owners left behind, one line each; empty when they freed it all. */
export function leftovers(o: LeakCheckOptions = {}): string[] {
  const owners = new Set(o.ownerPids ?? [process.pid]);
  const runDir = o.runDir ?? hearthPaths().run;
  return [...processes(owners), ...mounts(owners, runDir), ...runDirs(owners, runDir), ...cgroups(owners)];
}

/**
 * Leftovers once closed owners are done: files, mounts and cgroups must be gone at once; a sandbox
 * process that was killed gets up to `settleMs` to be reaped. Use in afterAll, after every server
 * and service is closed.
 */
export async function settledLeftovers(o: LeakCheckOptions & { settleMs?: number } = {}): Promise<string[]> {
  const deadline = performance.now() + (o.settleMs ?? 1000);
  let left = leftovers(o);
  const onlyProcesses = () => left.every((l) => l.startsWith('process '));
  while (left.length && onlyProcesses() && performance.now() < deadline) {
    await sleep(50);
    left = leftovers(o);
  }
  return left;
}
