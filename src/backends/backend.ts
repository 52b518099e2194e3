import type { AgentClient } from '../agent/client.js';
import type { ExecExit, ExecLimits } from '../agent/protocol.js';
import type { HearthPaths } from '../config/paths.js';
import type { SandboxLedger } from '../host/ledger.js';

/** What every backend factory is given. */
export interface BackendOptions {
  paths?: HearthPaths;
  /** Where sandboxes are recorded so orphans can be reaped; @default an in-memory ledger */
  ledger?: SandboxLedger;
}

/** The sandbox backends hearth knows, strongest isolation first. */
export const BACKEND_NAMES = ['qemu', 'firecracker', 'gvisor', 'bwrap'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export type Capability =
  /** A guest kernel per sandbox. */
  | 'vm-isolation'
  /** A user-space kernel between the program and the host (gVisor). */
  | 'syscall-isolation'
  /** Linux namespaces only. */
  | 'namespace-isolation'
  /** The whole sandbox, memory included, can be saved and restored. */
  | 'memory-snapshots'
  /** The sandbox's writable files can be saved and restored. */
  | 'fs-snapshots'
  /** Memory and process limits come from cgroups (else from rlimits). */
  | 'cgroup-limits'
  /** `runOnce`: a fresh sandbox for one program, without starting the agent. */
  | 'one-shot'
  /** Ready sandboxes can be kept in a warm pool. */
  | 'warm-pool';

export interface Probe {
  usable: boolean;
  /** Why it is usable or not, in one line a user can act on. */
  reason: string;
  /** Facts found on the way (versions, accelerator, paths). */
  details?: Record<string, string>;
}

export interface SandboxSpec {
  /** Image name from the catalog. */
  image: string;
  /** Memory for the whole sandbox. @default 512 */
  memoryMb?: number;
  /** vCPUs (VM backends). @default 1 */
  vcpus?: number;
  /** Size of the writable work dir and /tmp (tmpfs or overlay). @default 256 */
  diskMb?: number;
  /** Processes and threads for the whole sandbox. @default 256 */
  maxProcesses?: number;
  /** Environment every exec starts from. */
  env?: Record<string, string>;
  /** Who owns the sandbox (e.g. `{ job: id }`); recorded so orphans can be reaped. */
  labels?: Record<string, string>;
}

/**
 * `memory`: the whole running sandbox (processes, interpreter contexts' variables, files, since a
 * VM's writable files live in its RAM). `filesystem`: the sandbox's writable files only.
 */
export type SnapshotKind = 'memory' | 'filesystem';

/**
 * A saved sandbox: files in `dir` plus this object, which the caller stores (as JSON) to restore
 * from later, in this process or after a restart. Every field is JSON-safe.
 */
export interface SnapshotInfo {
  /** The directory the caller gave `snapshot()`; the backend's files are inside it. */
  dir: string;
  kind: SnapshotKind;
  /** The backend that made it. */
  backend: BackendName;
  /** The files in `dir`, together. */
  sizeBytes: number;
  /** ISO 8601. */
  createdAt: string;
  /**
   * What restore checks before it uses the files: their format and, for a VM, the build and shape
   * they were made in (kernel, image and tools hash, accelerator, vCPUs, memory).
   */
  meta: Record<string, string | number | boolean>;
}

export interface SnapshotOptions {
  /** An empty directory the caller made (and removes); the backend writes only inside it. */
  dir: string;
  kind: SnapshotKind;
}

export interface Sandbox {
  readonly id: string;
  readonly backend: BackendName;
  readonly spec: Readonly<SandboxSpec>;
  /** The typed client of the guest agent running inside. */
  readonly agent: AgentClient;
  /**
   * Saves the sandbox into `opts.dir` (capability `memory-snapshots` or `fs-snapshots`); the
   * sandbox keeps running. A kind the backend does not keep is SNAPSHOT_KIND_UNSUPPORTED.
   */
  snapshot?(opts: SnapshotOptions): Promise<SnapshotInfo>;
  /** Frees every process, mount, socket and temp file. Safe to call twice, never throws. */
  destroy(): Promise<void>;
}

export interface OneShotFile {
  /** Relative to the work dir. */
  path: string;
  content: Buffer;
  mode?: number;
}

export interface OneShotStep {
  argv: string[];
  env?: Record<string, string>;
  /** Relative to the work dir. */
  cwd?: string;
  stdin?: Buffer;
  limits?: ExecLimits;
}

export interface OneShotStepResult extends ExecExit {
  stdout: Buffer;
  stderr: Buffer;
}

export interface OneShotRequest {
  files: OneShotFile[];
  /** Run in order in the same work dir; a step that does not exit 0 ends the run. */
  steps: OneShotStep[];
  /** Called with output as it happens. */
  onOutput?: (step: number, stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  signal?: AbortSignal;
}

export interface SandboxBackend {
  readonly name: BackendName;
  /** Is this backend usable here, and if not, why. Never hangs: bounded by its own deadline. */
  probe(): Promise<Probe>;
  capabilities(): readonly Capability[];
  /** Starts a sandbox and waits until its agent answered `hello`. */
  create(spec: SandboxSpec, opts?: { signal?: AbortSignal }): Promise<Sandbox>;
  /**
   * The light path for one-shot jobs (capability `one-shot`): a fresh sandbox per call with the
   * same isolation and limits, running the steps directly without starting the agent. Everything
   * it creates is freed before it resolves.
   */
  runOnce?(spec: SandboxSpec, req: OneShotRequest): Promise<OneShotStepResult[]>;
  /**
   * A NEW sandbox (new id) from a snapshot this backend kind made; `spec` gives its environment and
   * labels again. Missing or damaged files are SNAPSHOT_MISSING; files from another build or shape
   * are SNAPSHOT_INCOMPATIBLE; a kind the backend does not keep is SNAPSHOT_KIND_UNSUPPORTED.
   */
  restore?(snap: SnapshotInfo, spec: SandboxSpec, opts?: { signal?: AbortSignal }): Promise<Sandbox>;
  /** Frees what the backend holds beyond single sandboxes (pools, templates). Idempotent. */
  close?(): Promise<void>;
}
