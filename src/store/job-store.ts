import type { SandboxLedger } from '../host/ledger.js';
import type { JobPage } from '../jobs/summary.js';
import type { Job, JobErrorInfo, JobRequest, JobResult, JobStatus } from '../jobs/types.js';

export interface NewJob {
  id: string;
  language: string;
  version: string | null;
  backend: string | null;
  request: JobRequest;
  createdAtMs: number;
}

export interface JobListQuery {
  status?: JobStatus;
  language?: string;
  /** @default 50 */
  limit?: number;
  /** From a previous page's `nextCursor`. */
  cursor?: string;
}

/** Which finished jobs `prune` deletes: those finished before a time, and those beyond a count. */
export interface PruneQuery {
  /** Finished jobs with `finished_at` before this (epoch ms) go. */
  finishedBeforeMs: number;
  /** Of the finished jobs left, only the newest this many stay. */
  keepFinished: number;
}

export interface FinishJob {
  status: Extract<JobStatus, 'completed' | 'error' | 'cancelled'>;
  result?: JobResult | null;
  error?: JobErrorInfo | null;
  finishedAtMs: number;
}

/** A job that was not final when its owner stopped (see `JobStore.unfinished`). */
export interface UnfinishedJob {
  id: string;
  status: 'queued' | 'running';
  ownerPid: number | null;
}

/**
 * The job service's store port. Every method that fails because the store cannot take writes
 * (disk full, I/O error, lock held too long) throws a HearthError STORE_FULL or STORE_UNAVAILABLE. SQLite implements it (src/store/sqlite-store.ts); the queries are
 * the portable subset Kysely builds, so a PostgreSQL implementation can follow.
 */
export interface JobStore {
  /** Writes and commits a queued job. */
  insert(job: NewJob): Promise<void>;
  get(id: string): Promise<Job | undefined>;
  /** queued → running; false if the job is no longer queued (cancelled, or taken by another owner). */
  markRunning(id: string, opts: { backend: string; ownerPid: number; startedAtMs: number }): Promise<boolean>;
  /** → a final status; false if the job was already final (the first final write wins). */
  finish(id: string, fin: FinishJob): Promise<boolean>;
  /** Newest first, as summaries: never the request or the output. */
  list(query: JobListQuery): Promise<JobPage>;
  /** Deletes finished jobs (never queued or running ones) with their outputs; returns how many. */
  prune(query: PruneQuery): Promise<number>;
  /** Jobs still queued or running, oldest first (for recovery at start-up). */
  unfinished(): Promise<UnfinishedJob[]>;
  /** running → queued again (a job whose sandbox never started before the owner stopped). */
  requeue(id: string): Promise<boolean>;
  /** Sandbox ownership records, on the same database. */
  readonly ledger: SandboxLedger;
  /** Idempotent. */
  close(): Promise<void>;
}
