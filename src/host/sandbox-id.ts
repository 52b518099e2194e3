import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * Sandbox ids name their owner: `<backend>-<ownerPid>-<owner start time>-<random>`. Every host
 * resource of a sandbox (its run dir, its cgroups) is named by its id, so the reaper can tell what
 * a dead hearth process left behind even when its ledger record is gone, without touching another
 * live process's sandboxes. The start time tells the owner from a later process that reuses its pid.
 */
export function newSandboxId(backend: string): string {
  return `${backend}-${ownerTag()}-${randomBytes(5).toString('hex')}`;
}

let ownStart: string | undefined;

/** This process's start time (field 22 of /proc/self/stat); it never changes, so it is read once. */
export function ownStartTime(): string {
  ownStart ??= processStartTime(process.pid) ?? '0';
  return ownStart;
}

/** `<pid>-<start time>` of this process: what resource names carry to name their owner. */
export function ownerTag(): string {
  return `${process.pid}-${ownStartTime()}`;
}

/** Also matches ids from before the start time was part of them (`<backend>-<pid>-<random>`). */
const ID_RE = /^[a-z]+-(\d+)-(?:(\d+)-)?[0-9a-z]+$/;

/** The owner named by a sandbox id (or a resource named by one): its pid and, when recorded, its start time. */
export function ownerOf(name: string): { pid: number; startTime?: string } | undefined {
  const m = ID_RE.exec(name);
  if (!m?.[1]) return undefined;
  return m[2] ? { pid: Number(m[1]), startTime: m[2] } : { pid: Number(m[1]) };
}

/** The owner pid encoded in a sandbox id (or a resource named by one), or undefined. */
export function ownerPidOf(name: string): number | undefined {
  return ownerOf(name)?.pid;
}

/** The start time of a process (field 22 of /proc/<pid>/stat, in clock ticks since boot), or undefined. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after its last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

/** Whether `pid` is a live process (not a zombie) and, when given, still the one that started at `startTime`. */
export function isRunning(pid: number, startTime?: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return false;
    return startTime === undefined || rest[19] === startTime;
  } catch {
    return false;
  }
}

/**
 * Whether `pid` runs a hearth process (a Node process, or one whose command line names hearth).
 * Only a guess: the owner's start time, where one was recorded, is what identifies it.
 */
export function isHearthProcess(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /node|hearth|vitest|tsx/.test(cmd);
  } catch {
    return false;
  }
}
