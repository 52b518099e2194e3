import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * Sandbox ids name their owner: `<backend>-<ownerPid>-<random>`. Every host resource of a sandbox
 * (its run dir, its cgroups) is named by its id, so the reaper can tell what a dead hearth process
 * left behind even when its ledger record is gone, without touching another live process's sandboxes.
 */
export function newSandboxId(backend: string): string {
  return `${backend}-${process.pid}-${randomBytes(5).toString('hex')}`;
}

const ID_RE = /^[a-z]+-(\d+)-[0-9a-z]+$/;

/** The owner pid encoded in a sandbox id (or a resource named by one), or undefined. */
export function ownerPidOf(name: string): number | undefined {
  const m = ID_RE.exec(name);
  return m?.[1] ? Number(m[1]) : undefined;
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

/** Whether `pid` runs a hearth process (a Node process, or one whose command line names hearth). */
export function isHearthProcess(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /node|hearth|vitest|tsx/.test(cmd);
  } catch {
    return false;
  }
}
