import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { hearthPaths } from '../config/paths.js';
import { type CgroupMode, type CgroupSupport, detectCgroupLayout } from './cgroup-detect.js';
import { ownerTag } from './sandbox-id.js';

/**
 * Host cgroups for sandboxes: one group per sandbox (`hearth/<id>`) holding every process the
 * sandbox starts, with a memory limit (swap included where the kernel accounts it), a process
 * limit, and the counters read back after a run (OOM kills, peak memory, CPU time). Which
 * hierarchies exist is found by cgroup-detect.ts.
 */
export interface CgroupLimits {
  /** Memory for every process of the group, swap included. */
  memoryMb?: number;
  /** Processes and threads for the group. */
  maxProcesses?: number;
}

const detected = new Map<string, CgroupSupport>();
let hostRoot: string | undefined;

/**
 * Which cgroup layout this host offers sandboxes, detected once per process (and root).
 * @param root @default hearthPaths().cgroupRoot (`HEARTH_CGROUP_ROOT`, /sys/fs/cgroup), read once
 */
export function detectCgroups(root?: string): CgroupSupport {
  hostRoot ??= hearthPaths().cgroupRoot;
  root ??= hostRoot;
  let support = detected.get(root);
  if (!support) {
    support =
      process.getuid?.() === 0
        ? detectCgroupLayout(root)
        : { mode: 'none', reason: 'not root: cannot create cgroups' };
    detected.set(root, support);
  }
  return support;
}

function readNumber(file: string): number {
  try {
    const v = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isFinite(v) ? v : 0;
  } catch {
    return 0;
  }
}

function readKey(file: string, key: string): number {
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [k, v] = line.split(' ');
      if (k === key && v) return Number.parseInt(v, 10) || 0;
    }
  } catch {}
  return 0;
}

/** Kills what is left in a cgroup directory and removes it, retrying while the kernel lets go. */
export async function removeCgroupDir(dir: string, opts: { attempts?: number } = {}): Promise<boolean> {
  const attempts = opts.attempts ?? 50;
  for (let i = 0; i < attempts; i++) {
    if (!existsSync(dir)) return true;
    let procs: number[] = [];
    try {
      procs = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {}
    for (const pid of procs) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    try {
      // Off the event loop: a v1 memory cgroup's rmdir waits for the kernel (~1 ms or more).
      await rmdir(dir);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return true;
      if (code !== 'EBUSY' && code !== 'ENOTEMPTY') return false;
    }
    await sleep(i < 10 ? 5 : 20);
  }
  return !existsSync(dir);
}

/** The cgroups of one sandbox. Create with `SandboxCgroup.create`; `remove()` is idempotent. */
export class SandboxCgroup {
  readonly mode: Exclude<CgroupMode, 'none'>;
  /** Every directory of the group: give each to the exec shim's `--cgroup`, record each in the ledger. */
  readonly dirs: string[];
  readonly #memory: string;
  readonly #pids: string;
  readonly #cpu: string | undefined;
  /** What the limit files hold now, so a pooled group's unchanged limits are not written again. */
  readonly #written: CgroupLimits = {};
  #hasSwap: boolean | undefined;
  #removing: Promise<void> | undefined;

  private constructor(
    mode: Exclude<CgroupMode, 'none'>,
    memory: string,
    pids: string,
    cpu: string | undefined,
  ) {
    this.mode = mode;
    this.#memory = memory;
    this.#pids = pids;
    this.#cpu = cpu;
    this.dirs = [...new Set([memory, pids, ...(cpu ? [cpu] : [])])];
  }

  /**
   * Creates the groups for sandbox `id` with `limits`, or returns undefined when cgroups are unusable here.
   * @param support @default detectCgroups()
   */
  static async create(
    id: string,
    limits: CgroupLimits,
    support: CgroupSupport = detectCgroups(),
  ): Promise<SandboxCgroup | undefined> {
    const { mode, parents } = support;
    if (mode === 'none' || !parents) return undefined;
    const cpu = parents.cpuacct ? join(parents.cpuacct, id) : undefined;
    const cg = new SandboxCgroup(mode, join(parents.memory, id), join(parents.pids, id), cpu);
    try {
      await Promise.all(cg.dirs.map((d) => mkdir(d)));
      cg.setLimits(limits);
      return cg;
    } catch (err) {
      await Promise.all(cg.dirs.map((d) => rmdir(d).catch(() => {})));
      throw err;
    }
  }

  /** Sets (or changes, between runs) the memory and process limits; unchanged ones are not rewritten. */
  setLimits(limits: CgroupLimits): void {
    const want: CgroupLimits = {};
    if (limits.memoryMb && limits.memoryMb !== this.#written.memoryMb) want.memoryMb = limits.memoryMb;
    if (limits.maxProcesses && limits.maxProcesses !== this.#written.maxProcesses)
      want.maxProcesses = limits.maxProcesses;
    if (want.memoryMb === undefined && want.maxProcesses === undefined) return;
    // Forget what is being written until it is: a failed write leaves the file unknown.
    if (want.memoryMb) this.#written.memoryMb = undefined;
    if (want.maxProcesses) this.#written.maxProcesses = undefined;
    this.#writeLimits(want);
    Object.assign(this.#written, want);
  }

  #writeLimits(limits: CgroupLimits): void {
    if (this.mode === 'v2') {
      if (limits.memoryMb) {
        writeFileSync(join(this.#memory, 'memory.max'), String(limits.memoryMb * 1024 * 1024));
        if (existsSync(join(this.#memory, 'memory.swap.max')))
          writeFileSync(join(this.#memory, 'memory.swap.max'), '0');
      }
      if (limits.maxProcesses) writeFileSync(join(this.#pids, 'pids.max'), String(limits.maxProcesses));
      return;
    }
    if (limits.memoryMb) {
      const bytes = String(limits.memoryMb * 1024 * 1024);
      const memsw = join(this.#memory, 'memory.memsw.limit_in_bytes');
      this.#hasSwap ??= existsSync(memsw);
      const hasSwap = this.#hasSwap;
      // memsw must stay >= the memory limit: raise memsw first when growing, lower it last when shrinking.
      const current = readNumber(join(this.#memory, 'memory.limit_in_bytes'));
      if (hasSwap && Number(bytes) > current) writeFileSync(memsw, bytes);
      writeFileSync(join(this.#memory, 'memory.limit_in_bytes'), bytes);
      if (hasSwap) writeFileSync(memsw, bytes);
    }
    if (limits.maxProcesses) writeFileSync(join(this.#pids, 'pids.max'), String(limits.maxProcesses));
  }

  /** How many times the kernel's OOM killer killed a process of this group. */
  oomKills(): number {
    if (this.mode === 'v2') return readKey(join(this.#memory, 'memory.events'), 'oom_kill');
    return readKey(join(this.#memory, 'memory.oom_control'), 'oom_kill');
  }

  /** The group's peak memory use in KiB (0 when the kernel does not report it). */
  peakMemoryKb(): number {
    const file = this.mode === 'v2' ? 'memory.peak' : 'memory.max_usage_in_bytes';
    return Math.round(readNumber(join(this.#memory, file)) / 1024);
  }

  /** Resets the peak memory counter where the kernel allows it (v1), so each run reads its own. */
  resetPeak(): void {
    if (this.mode !== 'v1') return;
    try {
      writeFileSync(join(this.#memory, 'memory.max_usage_in_bytes'), '0');
    } catch {}
  }

  /** CPU time used by every process of the group so far, in ms (0 without a cpu accounting group). */
  cpuTimeMs(): number {
    if (!this.#cpu) return 0;
    if (this.mode === 'v2') return Math.round(readKey(join(this.#cpu, 'cpu.stat'), 'usage_usec') / 1000);
    return Math.round(readNumber(join(this.#cpu, 'cpuacct.usage')) / 1e6);
  }

  /** The pids currently in the group. */
  pids(): number[] {
    try {
      return readFileSync(join(this.#pids, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  /** Kills what is left and removes every directory. Idempotent, never throws. */
  remove(): Promise<void> {
    this.#removing ??= (async () => {
      for (const d of this.dirs) await removeCgroupDir(d);
    })();
    return this.#removing;
  }
}

/**
 * Reusable sandbox cgroups for short runs. Creating a cgroup and moving the first process into it
 * costs the kernel far more than the run itself (≈20 ms on a v1 host against ≈30 ms for a whole
 * bwrap + python run), so one-shot runs take an idle group, reset its limits and peak, and give it
 * back once it is empty. Groups are named `<prefix>-<owner pid>-<owner start time>-pool<n>`, so the reaper frees them
 * if this process dies; `close()` removes the idle ones.
 */
export class CgroupPool {
  /** Shared by every pool of this process, so two pools (two backends) never pick the same name. */
  static #next = 0;
  readonly #prefix: string;
  readonly #maxIdle: number;
  readonly #idle: SandboxCgroup[] = [];
  #closed = false;

  /** @param opts.maxIdle groups kept for reuse. @default 16 */
  constructor(opts: { prefix: string; maxIdle?: number }) {
    this.#prefix = opts.prefix;
    this.#maxIdle = opts.maxIdle ?? 16;
  }

  /** An empty group with `limits`, or undefined when cgroups are unusable here. */
  async acquire(limits: CgroupLimits): Promise<SandboxCgroup | undefined> {
    const idle = this.#idle.pop();
    if (idle) {
      try {
        idle.setLimits(limits);
        idle.resetPeak();
        return idle;
      } catch {
        await idle.remove(); // e.g. a limit below what it still holds: start afresh
      }
    }
    return SandboxCgroup.create(`${this.#prefix}-${ownerTag()}-pool${CgroupPool.#next++}`, limits);
  }

  /** Takes a group back: kept for reuse once empty, else removed. Never throws. */
  async release(cg: SandboxCgroup | undefined): Promise<void> {
    if (!cg) return;
    for (let i = 0; i < 50 && cg.pids().length; i++) {
      for (const pid of cg.pids()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
      await sleep(i < 10 ? 2 : 20);
    }
    if (this.#closed || cg.pids().length || this.#idle.length >= this.#maxIdle) await cg.remove();
    else this.#idle.push(cg);
  }

  /** Removes every idle group. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const cg of this.#idle.splice(0)) await cg.remove();
  }
}
