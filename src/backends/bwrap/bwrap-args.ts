import { posix } from 'node:path';
import { SANDBOX_USER, sandboxBaseEnv } from '../../agent/sandbox-user.js';
import { HearthError } from '../../errors/hearth-error.js';

const WORK = SANDBOX_USER.workDir;

export interface BwrapArgsOptions {
  /** The image's root filesystem, mounted read-only at /. */
  rootfs: string;
  /** The tools layer, mounted read-only at /.hearth. */
  toolsDir: string;
  /** Size of each of the /work and /tmp tmpfs mounts. */
  diskMb: number;
  /** A host directory bind-mounted read-write at /work instead of a fresh tmpfs. */
  workDir?: string;
  /** Files copied into the fresh /work tmpfs from inherited fds (`--file FD`). */
  files?: { fd: number; path: string; mode?: number }[];
  /** The fd bwrap reads the seccomp filter from (`--seccomp FD`; see host/seccomp.ts). */
  seccompFd: number;
  /** Working directory inside the sandbox. @default /work */
  chdir?: string;
  env: Record<string, string>;
  /** The program to run inside, and its arguments. */
  command: string[];
  /**
   * Run `command` as the sandbox's pid 1 (`--as-pid-1`) instead of under bwrap's own init. That
   * init keeps bwrap's stdin and stdout and stays dumpable (bwrap makes it so), so a program could
   * take it over through /proc/1/mem and write on the agent's channel; without it, the channel is
   * held by the agent alone, which the tools layer makes non-dumpable.
   */
  asPid1?: boolean;
}

/** A relative path inside the work dir, normalised; anything that leaves it is refused. */
export function workPath(rel: string, what = 'path'): string {
  const norm = posix.normalize(rel.replace(/\\/g, '/'));
  if (!rel || posix.isAbsolute(rel) || norm === '..' || norm.startsWith('../') || norm.includes('\0')) {
    throw new HearthError(
      'VALIDATION_FAILED',
      `${what} "${rel}" must be relative and stay inside the work dir`,
    );
  }
  return norm === '.' ? '' : norm;
}

/** The base environment of every sandbox process, plus `extra`. */
export function sandboxEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { ...sandboxBaseEnv(), ...extra };
}

/** Size of /dev/shm: POSIX shared memory and semaphores need a little, never the whole disk. */
const DEV_SHM_MAX_MB = 64;

/**
 * bwrap's arguments for one sandbox: every namespace unshared (user, pid, net, ipc, uts, cgroup)
 * and no further user namespaces, the seccomp filter, the image read-only at /, the tools layer at
 * /.hearth, size-limited tmpfs /work and /tmp, a fresh /proc, a read-only /dev with a size-limited
 * /dev/shm, an empty environment but `env`, and the sandbox user (uid 1000). bwrap itself sets
 * no_new_privs.
 */
export function bwrapArgs(o: BwrapArgsOptions): string[] {
  const bytes = String(o.diskMb * 1024 * 1024);
  const shmBytes = String(Math.min(o.diskMb, DEV_SHM_MAX_MB) * 1024 * 1024);
  const args = [
    '--unshare-user',
    '--disable-userns',
    '--unshare-pid',
    '--unshare-net',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--die-with-parent',
    '--new-session',
    ...(o.asPid1 ? ['--as-pid-1'] : []),
    '--seccomp',
    String(o.seccompFd),
    '--ro-bind',
    o.rootfs,
    '/',
    '--ro-bind',
    o.toolsDir,
    '/.hearth',
    '--proc',
    '/proc',
    // bwrap's /dev is a tmpfs without a size, writable by the sandbox user: made read-only (the
    // device nodes stay usable), with a sized tmpfs for /dev/shm.
    '--dev',
    '/dev',
    '--remount-ro',
    '/dev',
    '--size',
    shmBytes,
    '--perms',
    '1777',
    '--tmpfs',
    '/dev/shm',
    '--size',
    bytes,
    '--perms',
    '1777',
    '--tmpfs',
    '/tmp',
  ];
  if (o.workDir) args.push('--bind', o.workDir, WORK);
  else args.push('--size', bytes, '--perms', '0755', '--tmpfs', WORK);
  const dirs = new Set<string>();
  for (const f of o.files ?? []) {
    const rel = workPath(f.path, 'file path');
    const parts = rel.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const dir = `${WORK}/${parts.slice(0, i).join('/')}`;
      if (!dirs.has(dir)) args.push('--perms', '0755', '--dir', dir);
      dirs.add(dir);
    }
    const mode = ((f.mode ?? 0o644) & 0o7777).toString(8).padStart(4, '0');
    args.push('--perms', mode, '--file', String(f.fd), `${WORK}/${rel}`);
  }
  args.push('--hostname', 'sandbox', '--uid', String(SANDBOX_USER.uid), '--gid', String(SANDBOX_USER.gid));
  args.push('--chdir', o.chdir ?? WORK, '--clearenv');
  for (const [k, v] of Object.entries(o.env)) args.push('--setenv', k, v);
  args.push('--', ...o.command);
  return args;
}

/**
 * The guest agent's command line in a sandbox: stdio transport, /work, the user's home, and the
 * user's names plus the spec's env for every exec.
 */
export function agentCommand(env: Record<string, string>): string[] {
  const { USER, LOGNAME } = sandboxBaseEnv();
  const cmd = ['/.hearth/bin/node', '/.hearth/agent.js', '--stdio', '--work-dir', WORK];
  cmd.push('--home', SANDBOX_USER.home);
  for (const [k, v] of Object.entries({ USER, LOGNAME, ...env })) cmd.push('--env', `${k}=${v}`);
  return cmd;
}
