import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';

export interface ShimSpawnOptions {
  /** The exec shim on the host (the tools layer's bin/hearth-exec). */
  shim: string;
  /** cgroup directories the shim joins before anything else runs. */
  cgroupDirs: readonly string[];
  /** The unprivileged host uid (and gid) the sandbox runs as. */
  uid: number;
  /** RLIMIT_NPROC for the whole sandbox (its uid is its own). */
  nproc?: number;
  /** Leave descendants alone when the main child exits (bwrap's pid namespace ends them anyway). */
  noKillOrphans?: boolean;
  /**
   * An fd of `stdio` (a pipe) for the host-side shim's own report: `{"pid":N}` of the command, then
   * its wait status and the rusage of its whole reaped tree. The sandbox never sees this fd.
   */
  reportFd?: number;
  /** The program the shim runs, e.g. `['bwrap', …]`. */
  command: readonly string[];
  /** Every fd past the last of these is closed before `command` runs. */
  stdio: StdioOptions;
}

/**
 * Starts `command` through the exec shim on the host, so that it lands in the sandbox's cgroups
 * before it runs (no race) and drops root for an unprivileged uid of its own.
 */
export function spawnThroughShim(o: ShimSpawnOptions): ChildProcess {
  const args: string[] = [];
  for (const dir of o.cgroupDirs) args.push('--cgroup', dir);
  args.push('--uid', String(o.uid), '--gid', String(o.uid));
  if (o.nproc) args.push('--nproc', String(o.nproc));
  if (o.noKillOrphans) args.push('--no-kill-orphans');
  if (o.reportFd !== undefined) args.push('--report-fd', String(o.reportFd));
  // Node hands children every fd its own parent left without O_CLOEXEC: none may reach a sandbox.
  args.push('--close-from', String(Array.isArray(o.stdio) ? Math.max(3, o.stdio.length) : 3));
  args.push('--', ...o.command);
  return spawn(o.shim, args, { stdio: o.stdio, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
}

/** Resolves when `child` has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
}

/**
 * Optionally waits `politeMs` for the process to end by itself, then SIGTERM (the shim then
 * SIGKILLs every descendant), SIGKILL after `graceMs` (`onKill` first, e.g. to kill a cgroup),
 * and waits for the exit. Never throws.
 */
export async function stopProcess(
  child: ChildProcess,
  opts: { graceMs?: number; politeMs?: number; onKill?: () => void } = {},
): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  if (opts.politeMs) {
    // A sandbox whose agent saw its stdin close usually ends by itself at once.
    let t: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      t = setTimeout(() => resolve('late'), opts.politeMs);
    });
    const r = await Promise.race([done, late]);
    clearTimeout(t);
    if (r !== 'late') return;
  }
  try {
    child.kill('SIGTERM');
  } catch {}
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), opts.graceMs ?? 2000);
  });
  const first = await Promise.race([done, grace]);
  clearTimeout(timer);
  if (first === 'late') {
    opts.onKill?.();
    try {
      child.kill('SIGKILL');
    } catch {}
    await done;
  }
}
