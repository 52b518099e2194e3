import { envInt } from '../config/env-int.js';

/** The session service's settings; `sessionsConfig(process.env)` reads them from HEARTH_* variables. */
export interface SessionsConfig {
  /** Sessions holding a sandbox at once (paused ones hold none); past it a create gets SESSION_LIMIT. `HEARTH_MAX_SESSIONS`; @default 16 */
  maxSessions: number;
  /** `HEARTH_SESSION_TTL_MS`; @default 30 minutes */
  defaultTtlMs: number;
  /** The longest TTL a create or an extend may ask for. `HEARTH_SESSION_MAX_TTL_MS`; @default 24 hours */
  maxTtlMs: number;
  /** Snapshots per session; past it SNAPSHOT_LIMIT. `HEARTH_MAX_SNAPSHOTS`; @default 10 */
  maxSnapshotsPerSession: number;
  /** Bytes of snapshot files on this server in all; past it SNAPSHOT_STORE_FULL. `HEARTH_SNAPSHOT_MAX_BYTES`; @default 20 GiB */
  maxSnapshotBytes: number;
  /** Memory a session may ask for. `HEARTH_SESSION_MAX_MEMORY_MB`; @default 4096 */
  maxMemoryMb: number;
  /** Memory when it asks for none (a pooled sandbox has the pool's). @default 512 */
  defaultMemoryMb: number;
  /** `HEARTH_SESSION_MAX_VCPUS`; @default 4 */
  maxVcpus: number;
  /** `HEARTH_SESSION_MAX_DISK_MB`; @default 8192 */
  maxDiskMb: number;
  /** A command's or a code run's timeout when it asks for none. @default 60000 */
  defaultTimeoutMs: number;
  /** The longest a command or code run may ask for (background commands too). `HEARTH_SESSION_MAX_TIMEOUT_MS`; @default 1 hour */
  maxTimeoutMs: number;
  /** Output kept per command (stdout and stderr together). @default 16 MiB */
  maxOutputBytes: number;
  /** Finished background commands remembered per session. @default 100 */
  maxCommandsKept: number;
}

export function sessionsConfig(env: NodeJS.ProcessEnv = process.env): SessionsConfig {
  return {
    maxSessions: envInt(env, 'HEARTH_MAX_SESSIONS', 16, 1),
    defaultTtlMs: envInt(env, 'HEARTH_SESSION_TTL_MS', 30 * 60_000, 1),
    maxTtlMs: envInt(env, 'HEARTH_SESSION_MAX_TTL_MS', 24 * 3600_000, 1),
    maxSnapshotsPerSession: envInt(env, 'HEARTH_MAX_SNAPSHOTS', 10, 1),
    maxSnapshotBytes: envInt(env, 'HEARTH_SNAPSHOT_MAX_BYTES', 20 * 1024 ** 3, 1),
    maxMemoryMb: envInt(env, 'HEARTH_SESSION_MAX_MEMORY_MB', 4096, 1),
    defaultMemoryMb: 512,
    maxVcpus: envInt(env, 'HEARTH_SESSION_MAX_VCPUS', 4, 1),
    maxDiskMb: envInt(env, 'HEARTH_SESSION_MAX_DISK_MB', 8192, 1),
    defaultTimeoutMs: 60_000,
    maxTimeoutMs: envInt(env, 'HEARTH_SESSION_MAX_TIMEOUT_MS', 3600_000, 1),
    maxOutputBytes: 16 * 1024 * 1024,
    maxCommandsKept: 100,
  };
}
