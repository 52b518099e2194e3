import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { JOB_STATUSES, type JobStatus } from './types.js';

/**
 * What a job list carries per job: status, timings and output sizes, never the output or the
 * request themselves, so a page stays small whatever the jobs printed. `GET /v1/jobs/:id` has the rest.
 * The server serialises list pages with these schemas; the SDK's types are derived from them.
 */
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Ms = Type.Integer({ minimum: 0 });

export const ResultSummarySchema = Type.Object({
  stage: Type.Union([Type.Literal('compile'), Type.Literal('run')]),
  exitCode: Nullable(Type.Integer()),
  signal: Nullable(Type.String()),
  timedOut: Type.Boolean(),
  truncated: Type.Boolean(),
  outOfMemory: Type.Boolean(),
  timing: Type.Object({ queuedMs: Ms, startMs: Ms, runMs: Ms, totalMs: Ms }),
  usage: Type.Object({ cpuTimeMs: Ms, peakMemoryKb: Ms }),
  /** Sizes in bytes of the last step's output (`GET /v1/jobs/:id` has the output itself). */
  stdoutBytes: Ms,
  stderrBytes: Ms,
});

export const JobSummarySchema = Type.Object({
  id: Type.String(),
  status: Type.Unsafe<JobStatus>(Type.String({ enum: [...JOB_STATUSES] })),
  language: Type.String(),
  version: Nullable(Type.String()),
  backend: Nullable(Type.String()),
  result: Nullable(ResultSummarySchema),
  error: Nullable(Type.Object({ code: Type.String(), message: Type.String(), hint: Type.String() })),
  createdAt: Type.String(),
  startedAt: Nullable(Type.String()),
  finishedAt: Nullable(Type.String()),
  attempts: Type.Integer({ minimum: 0 }),
});

export const JobPageSchema = Type.Object({
  jobs: Type.Array(JobSummarySchema),
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: Nullable(Type.String()),
});

export type ResultSummary = Static<typeof ResultSummarySchema>;
export type JobSummary = Static<typeof JobSummarySchema>;
export type JobPage = Static<typeof JobPageSchema>;
