/**
 * How the agent applies memory and process limits: a cgroup v2 per exec when it is root in its
 * own kernel (hearth's microVMs), else rlimits through the exec shim.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecLimits } from '../protocol.js';

export type LimitMechanism = 'cgroup-v2' | 'rlimit';
export type LimitMode = 'auto' | 'cgroup' | 'rlimit';

export interface LimitSetup {
  mechanism: LimitMechanism;
  /** The parent of the per-exec cgroups (cgroup-v2 only). */
  parent?: string;
  /** Why cgroups are not used, for logs. */
  reason?: string;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Decides the mechanism once at start-up; mounts cgroup2 when nothing is mounted. */
export function setupLimits(mode: LimitMode): LimitSetup {
  if (mode === 'rlimit') return { mechanism: 'rlimit', reason: 'asked for rlimits' };
  if (process.getuid?.() !== 0) return { mechanism: 'rlimit', reason: 'not root' };
  try {
    const controllersFile = join(CGROUP_ROOT, 'cgroup.controllers');
    if (!existsSync(controllersFile)) {
      if (existsSync(CGROUP_ROOT) && readdirSync(CGROUP_ROOT).length > 0)
        return { mechanism: 'rlimit', reason: 'a cgroup v1 hierarchy is mounted' };
      mkdirSync(CGROUP_ROOT, { recursive: true });
      const mount = spawnSync('mount', ['-t', 'cgroup2', 'cgroup2', CGROUP_ROOT], { stdio: 'ignore' });
      if (mount.status !== 0 || !existsSync(controllersFile))
        return { mechanism: 'rlimit', reason: 'cannot mount cgroup2' };
    }
    const controllers = readFileSync(controllersFile, 'utf8').split(/\s+/);
    if (!controllers.includes('memory') || !controllers.includes('pids'))
      return { mechanism: 'rlimit', reason: 'memory or pids controller missing' };
    writeFileSync(join(CGROUP_ROOT, 'cgroup.subtree_control'), '+memory +pids');
    const parent = join(CGROUP_ROOT, 'hearth-exec');
    mkdirSync(parent, { recursive: true });
    writeFileSync(join(parent, 'cgroup.subtree_control'), '+memory +pids');
    return { mechanism: 'cgroup-v2', parent };
  } catch (err) {
    if (mode === 'cgroup') throw err;
    return { mechanism: 'rlimit', reason: `cgroup v2 unusable: ${(err as Error).message}` };
  }
}

/** One exec's cgroup. */
export class ExecCgroup {
  private constructor(readonly dir: string) {}

  static create(parent: string, name: string, limits: ExecLimits): ExecCgroup {
    const dir = join(parent, name);
    mkdirSync(dir);
    const cg = new ExecCgroup(dir);
    try {
      if (limits.memoryMb !== undefined) {
        writeFileSync(join(dir, 'memory.max'), String(Math.floor(limits.memoryMb * 1024 * 1024)));
        cg.#tryWrite('memory.swap.max', '0');
        // On OOM the whole exec goes, not just its largest process.
        cg.#tryWrite('memory.oom.group', '1');
      }
      if (limits.maxProcesses !== undefined)
        writeFileSync(join(dir, 'pids.max'), String(limits.maxProcesses));
    } catch (err) {
      cg.remove();
      throw err;
    }
    return cg;
  }

  #tryWrite(file: string, value: string): void {
    try {
      writeFileSync(join(this.dir, file), value);
    } catch {}
  }

  #read(file: string): string {
    try {
      return readFileSync(join(this.dir, file), 'utf8');
    } catch {
      return '';
    }
  }

  /** The kernel's OOM killer killed something in it. */
  oomKilled(): boolean {
    const m = /^oom_kill (\d+)$/m.exec(this.#read('memory.events'));
    return m !== null && Number(m[1]) > 0;
  }

  /** Peak memory in KiB, or undefined when the kernel has no memory.peak. */
  peakKb(): number | undefined {
    const text = this.#read('memory.peak').trim();
    return text ? Math.round(Number(text) / 1024) : undefined;
  }

  /** CPU time used by everything in it. */
  cpuMs(): number {
    const m = /^usage_usec (\d+)$/m.exec(this.#read('cpu.stat'));
    return m ? Math.round(Number(m[1]) / 1000) : 0;
  }

  /** Removes it; retries briefly while the last processes are being reaped. */
  remove(): void {
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        rmdirSync(this.dir);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return;
        if (code !== 'EBUSY') break;
        this.#tryWrite('cgroup.kill', '1');
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
      }
    }
    process.stderr.write(`hearth-agent: cannot remove cgroup ${this.dir}\n`);
  }
}
