import type { Generated } from 'kysely';

/** Column types as the database holds them: JSON as text, times as epoch milliseconds. */
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

export interface SandboxesTable {
  id: string;
  owner_pid: number;
  record: string;
  created_at: number;
}

export interface Database {
  jobs: JobsTable;
  sandboxes: SandboxesTable;
}
