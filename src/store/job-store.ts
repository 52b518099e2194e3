import type { Job, JobErrorInfo, JobRequest, JobResult, JobStatus } from '../jobs/types.js';
import type { SandboxLedger } from '../sandboxes/ledger.js';

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

export interface JobPage {
  jobs: Job[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
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
 * The job service's store port. SQLite implements it (src/store/sqlite-store.ts); the queries are
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
  /** Newest first. */
  list(query: JobListQuery): Promise<JobPage>;
  /** Jobs still queued or running, oldest first (for recovery at start-up). */
  unfinished(): Promise<UnfinishedJob[]>;
  /** running → queued again (a job whose sandbox never started before the owner stopped). */
  requeue(id: string): Promise<boolean>;
  /** Sandbox ownership records, on the same database. */
  readonly ledger: SandboxLedger;
  /** Idempotent. */
  close(): Promise<void>;
}
