import { HearthError } from '../../errors/hearth-error.js';
import type { CgroupPool, SandboxCgroup } from '../../host/cgroups.js';
import { newSandboxRecord, type SandboxLedger, type SandboxRecord } from '../../host/ledger.js';
import type { SandboxSpec } from '../backend.js';
import type { UidPool } from './uid-pool.js';

/** What a bwrap sandbox or one-shot run needs from its backend. */
export interface BwrapContext {
  ledger: SandboxLedger;
  uids: UidPool;
  /** Reusable cgroups for one-shot runs. */
  cgroups: CgroupPool;
  rootfs: string;
  tools: { dir: string; shim: string };
  /** The bwrap binary. @default bwrap (from PATH) */
  bwrap: string;
  /** How long the agent may take to say hello. @default 15000 */
  helloTimeoutMs?: number;
}

/** Sandbox spec defaults (see SandboxSpec). */
export const SPEC_DEFAULTS = { memoryMb: 512, diskMb: 256, maxProcesses: 256 } as const;

/** A size from a spec or limits: unset or 0 takes the default; negative or not a number is refused. */
export function sizeOr(v: number | undefined, key: keyof typeof SPEC_DEFAULTS, fallback?: number): number {
  if (v === undefined || v === 0) return fallback ?? SPEC_DEFAULTS[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new HearthError('VALIDATION_FAILED', `${key} must be a positive number, got ${String(v)}`);
  }
  return Math.ceil(v);
}

/** The ledger record of a bwrap sandbox, before its processes are known. */
export function newRecord(id: string, spec: SandboxSpec, cg: SandboxCgroup | undefined): SandboxRecord {
  return newSandboxRecord(id, 'bwrap', { cgroups: cg?.dirs ?? [], labels: spec.labels ?? {} });
}
