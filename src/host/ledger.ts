import { ownStartTime } from './sandbox-id.js';

/**
 * What a sandbox holds on the host, recorded before it is created and removed when it is freed,
 * so that a server that died can be cleaned up after at its next start (see reaper.ts).
 */
export interface SandboxRecord {
  id: string;
  /** The backend's name (see backends/backend.ts). */
  backend: string;
  /** The pid of the hearth process that owns it. */
  ownerPid: number;
  /**
   * The owner's start time (see sandbox-id.ts): a live process with the owner's pid but another
   * start time reused the pid, and the owner is dead. Absent in records from older hearth versions.
   */
  ownerStartTime?: string;
  /** Processes to kill (bwrap, runsc, qemu …), with their start time to avoid killing a reused pid. */
  pids: { pid: number; startTime?: string }[];
  /** Files and directories to remove (sockets, overlays, temp dirs). */
  paths: string[];
  /** Mount points to unmount before the paths are removed. */
  mounts: string[];
  /** cgroup directories to remove. */
  cgroups: string[];
  labels: Record<string, string>;
  createdAt: string;
}

/** The store's port for sandbox ownership. The SQLite store implements it; so does an in-memory one. */
export interface SandboxLedger {
  put(record: SandboxRecord): void;
  remove(id: string): void;
  list(): SandboxRecord[];
}

export class MemoryLedger implements SandboxLedger {
  readonly #records = new Map<string, SandboxRecord>();
  put(record: SandboxRecord): void {
    this.#records.set(record.id, structuredClone(record));
  }
  remove(id: string): void {
    this.#records.delete(id);
  }
  list(): SandboxRecord[] {
    return [...this.#records.values()].map((r) => structuredClone(r));
  }
}

/** A new record owned by this process; the caller adds pids, paths, mounts and cgroups as they exist. */
export function newSandboxRecord(
  id: string,
  backend: string,
  parts: Partial<Pick<SandboxRecord, 'pids' | 'paths' | 'mounts' | 'cgroups' | 'labels'>> = {},
): SandboxRecord {
  return {
    id,
    backend,
    ownerPid: process.pid,
    ownerStartTime: ownStartTime(),
    pids: parts.pids ?? [],
    paths: parts.paths ?? [],
    mounts: parts.mounts ?? [],
    cgroups: parts.cgroups ?? [],
    labels: parts.labels ?? {},
    createdAt: new Date().toISOString(),
  };
}
