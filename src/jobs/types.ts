/** The shapes of a job: what a client submits, what hearth stores, and what a finished job returns. */

import type { ExecExit } from '../agent/protocol.js';

export const JOB_STATUSES = ['queued', 'running', 'completed', 'error', 'cancelled'] as const;
/** `completed` whatever the exit code; `error` when hearth could not run it; `cancelled` by DELETE. */
export type JobStatus = (typeof JOB_STATUSES)[number];

export const FINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['completed', 'error', 'cancelled']);

export interface JobLimits {
  /** Wall-clock limit of the run step. */
  timeoutMs: number;
  /** CPU time limit of the run step. */
  cpuTimeMs: number;
  /** Memory for the program. */
  memoryMb: number;
  /** stdout + stderr bytes kept per step; past it the output is cut and `truncated` set. */
  maxOutputBytes: number;
  /** Processes and threads. */
  maxProcesses: number;
}

export interface JobFile {
  /** Path relative to the work dir; the first file is the entry point when names are missing. */
  name?: string;
  content: string;
  /** @default 'utf8' */
  encoding?: 'utf8' | 'base64';
}

/** Limits of a language's compile step; each is at most the server's compile maximum. */
export interface CompileLimits {
  /** Wall-clock limit of the compile step. @default HEARTH_COMPILE_TIMEOUT_MS */
  timeoutMs: number;
  /** CPU time of the compile step. @default its timeoutMs */
  cpuTimeMs: number;
  /** Memory of the compile step. @default HEARTH_COMPILE_MEMORY_MB */
  memoryMb: number;
}

/** What a client submits (POST /v1/jobs): `code`, `files`, or both (then `code` is the entry point). */
export interface JobRequest {
  language: string;
  version?: string;
  code?: string;
  files?: JobFile[];
  stdin?: string;
  args?: string[];
  env?: Record<string, string>;
  limits?: Partial<JobLimits>;
  /** For compiled languages: the compile step's limits (the server's compile maxima by default). */
  compileLimits?: Partial<CompileLimits>;
  backend?: string;
  /** Check a shell job's code against the thesaurus first (see learning/input-gate.ts). */
  validate?: 'permissive' | 'normal' | 'strict';
}

/** How one process (the compile step or the run step) ended, with its output. */
export interface StepResult extends ExecExit {
  /** Output as UTF-8 text (invalid sequences replaced); see `stdoutBase64`. */
  stdout: string;
  stderr: string;
  /** The exact bytes, only when the output is not valid UTF-8. */
  stdoutBase64?: string;
  stderrBase64?: string;
}

export interface JobTiming {
  /** Submitted → picked by the scheduler. */
  queuedMs: number;
  /** Picked → the sandbox was ready (and, for one-shot runs, everything outside the programs). */
  startMs: number;
  /** The programs' own wall time (compile + run). */
  runMs: number;
  /** Submitted → finished. */
  totalMs: number;
}

/**
 * A finished job's result. The top-level exit fields describe the last step that ran: the run step,
 * or the compile step when compilation failed (then `stage` is `compile` and the run was skipped).
 */
export interface JobResult extends Omit<StepResult, 'cpuTimeMs' | 'wallTimeMs' | 'peakMemoryKb'> {
  stage: 'compile' | 'run';
  compile?: StepResult;
  timing: JobTiming;
  usage: { cpuTimeMs: number; peakMemoryKb: number };
}

export interface JobErrorInfo {
  code: string;
  message: string;
  hint: string;
}

export interface Job {
  id: string;
  status: JobStatus;
  /** The catalog's canonical name (an alias in the request is resolved). */
  language: string;
  version: string | null;
  backend: string | null;
  request: JobRequest;
  result: JobResult | null;
  error: JobErrorInfo | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  attempts: number;
}

export type OutputStream = 'stdout' | 'stderr';
export type JobStage = 'compile' | 'run';
