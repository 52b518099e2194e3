import type { Selectable } from 'kysely';
import { HearthError } from '../errors/hearth-error.js';
import { joinResult, type ResultMeta, type StoredOutput } from '../jobs/output.js';
import type { JobSummary } from '../jobs/summary.js';
import type { Job, JobStatus, OutputStream } from '../jobs/types.js';
import type { JobsTable } from './schema.js';

/** Rows ↔ jobs: the conversions the SQLite store (and a PostgreSQL one) share. */

/** Every column but the request: what a list reads. */
export const SUMMARY_COLUMNS = [
  'seq',
  'id',
  'status',
  'language',
  'version',
  'backend',
  'result',
  'error',
  'created_at',
  'started_at',
  'finished_at',
  'attempts',
] as const;

export type SummaryRow = Pick<Selectable<JobsTable>, (typeof SUMMARY_COLUMNS)[number]>;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function common(row: SummaryRow) {
  return {
    id: row.id,
    status: row.status as JobStatus,
    language: row.language,
    version: row.version,
    backend: row.backend,
    error: row.error === null ? null : JSON.parse(row.error),
    createdAt: new Date(row.created_at).toISOString(),
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    attempts: row.attempts,
  };
}

/** A whole job: its request, and its result with the output joined back in. */
export function toJob(row: Selectable<JobsTable>, outputs: readonly StoredOutput[]): Job {
  const meta = row.result === null ? null : (JSON.parse(row.result) as ResultMeta);
  return {
    ...common(row),
    request: JSON.parse(row.request),
    result: meta && joinResult(meta, outputs),
  };
}

/** `sizes` maps `key/stream` to the byte length of that output. */
export function toSummary(row: SummaryRow, sizes: ReadonlyMap<string, number>): JobSummary {
  const meta = row.result === null ? null : (JSON.parse(row.result) as ResultMeta);
  const size = (stream: OutputStream) => (meta ? (sizes.get(`${meta.stage}/${stream}`) ?? 0) : 0);
  return {
    ...common(row),
    result: meta && {
      stage: meta.stage,
      exitCode: meta.exitCode ?? null,
      signal: meta.signal ?? null,
      timedOut: meta.timedOut === true,
      truncated: meta.truncated === true,
      outOfMemory: meta.outOfMemory === true,
      // The list is serialised by its schema, which needs every field: a row that lacks one gets zeros.
      timing: Object.assign({ queuedMs: 0, startMs: 0, runMs: 0, totalMs: 0 }, meta.timing),
      usage: Object.assign({ cpuTimeMs: 0, peakMemoryKb: 0 }, meta.usage),
      stdoutBytes: size('stdout'),
      stderrBytes: size('stderr'),
    },
  };
}

export const encodeCursor = (seq: number): string => Buffer.from(`s${seq}`).toString('base64url');

export function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString();
  const seq = /^s(\d{1,15})$/.exec(text)?.[1];
  if (seq === undefined) throw new HearthError('VALIDATION_FAILED', 'cursor is not one this server returned');
  return Number(seq);
}
