import type { Generated } from 'kysely';

/**
 * Column types as the database holds them: JSON as text, times as epoch milliseconds, outputs as
 * bytes. `result` is the result without its output (see `ResultMeta`).
 */
export interface JobsTable {
  seq: Generated<number>;
  id: string;
  status: string;
  language: string;
  version: string | null;
  backend: string | null;
  request: string;
  result: string | null;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  attempts: number;
  owner_pid: number | null;
}

/** One stream of one step's output, byte-exact; deleted with its job. */
export interface JobOutputsTable {
  job_id: string;
  /** The stage whose output it is (`run`, `compile`; see `splitResult`). */
  key: string;
  stream: string;
  bytes: Buffer;
}

export interface SandboxesTable {
  id: string;
  owner_pid: number;
  record: string;
  created_at: number;
}

export interface Database {
  jobs: JobsTable;
  job_outputs: JobOutputsTable;
  sandboxes: SandboxesTable;
}
