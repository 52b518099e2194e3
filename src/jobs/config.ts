import { availableParallelism } from 'node:os';
import { envInt } from '../config/env-int.js';
import { HearthError } from '../errors/hearth-error.js';
import type { CompileLimits, JobLimits } from './types.js';

/** The job service's settings; `jobsConfig(process.env)` reads them from HEARTH_* variables. */
export interface JobsConfig {
  /**
   * Jobs running at once. A one-shot job keeps Node idle (its CPU is spent in the sandbox), so the
   * default is several per core. `HEARTH_CONCURRENCY`; @default 4 × the number of cores
   */
  concurrency: number;
  /**
   * Of those, jobs at once that need a sandbox with the agent (interactive jobs, backends without
   * one-shot runs: a VM or container each). `HEARTH_SANDBOX_CONCURRENCY`; @default the number of cores
   */
  sandboxConcurrency: number;
  /** Jobs waiting beyond the running ones; past it a submit gets QUEUE_FULL. `HEARTH_MAX_QUEUE`; @default 1000 */
  maxQueue: number;
  /** Bytes of code (or files) per job. `HEARTH_MAX_CODE_BYTES`; @default 1 MiB */
  maxCodeBytes: number;
  /** Jobs per batch request. `HEARTH_MAX_BATCH`; @default 20 */
  maxBatch: number;
  /** The backend jobs use when they name none. `HEARTH_BACKEND`; @default the first usable of bwrap, gvisor, qemu, firecracker */
  defaultBackend: string | undefined;
  /** Limits a job gets when it asks for none. */
  defaultLimits: JobLimits;
  /** The most a job may ask for; more is LIMIT_TOO_HIGH. */
  maxLimits: JobLimits;
  /** Wall-clock limit of a compile step. `HEARTH_COMPILE_TIMEOUT_MS`; @default 30000 */
  compileTimeoutMs: number;
  /** Memory of a compile step (compilers need more than most programs). @default 1024 */
  compileMemoryMb: number;
  /** Ready sandboxes kept per image for backends without one-shot runs or their own pool. `HEARTH_POOL_SIZE`; @default 1 */
  poolSize: number;
  /** Finished jobs older than this (since they finished) are deleted with their output. `HEARTH_RETENTION_MS`; @default 7 days */
  retentionMs: number;
  /** Finished jobs kept at most, newest first; older ones are deleted. `HEARTH_RETENTION_JOBS`; @default 10000 */
  retentionJobs: number;
  /** How often retention runs (it also runs at start-up). `HEARTH_RETENTION_INTERVAL_MS`; @default 10 minutes */
  retentionIntervalMs: number;
}

export function jobsConfig(env: NodeJS.ProcessEnv = process.env): JobsConfig {
  return {
    concurrency: envInt(env, 'HEARTH_CONCURRENCY', 4 * availableParallelism(), 1),
    sandboxConcurrency: envInt(env, 'HEARTH_SANDBOX_CONCURRENCY', availableParallelism(), 1),
    maxQueue: envInt(env, 'HEARTH_MAX_QUEUE', 1000),
    maxCodeBytes: envInt(env, 'HEARTH_MAX_CODE_BYTES', 1024 * 1024, 1),
    maxBatch: envInt(env, 'HEARTH_MAX_BATCH', 20, 1),
    defaultBackend: env.HEARTH_BACKEND || undefined,
    defaultLimits: {
      timeoutMs: envInt(env, 'HEARTH_DEFAULT_TIMEOUT_MS', 10_000, 1),
      cpuTimeMs: envInt(env, 'HEARTH_DEFAULT_CPU_TIME_MS', 10_000, 1),
      memoryMb: envInt(env, 'HEARTH_DEFAULT_MEMORY_MB', 256, 1),
      maxOutputBytes: envInt(env, 'HEARTH_DEFAULT_MAX_OUTPUT_BYTES', 1024 * 1024, 1),
      maxProcesses: envInt(env, 'HEARTH_DEFAULT_MAX_PROCESSES', 64, 1),
    },
    maxLimits: {
      timeoutMs: envInt(env, 'HEARTH_MAX_TIMEOUT_MS', 60_000, 1),
      cpuTimeMs: envInt(env, 'HEARTH_MAX_CPU_TIME_MS', 60_000, 1),
      memoryMb: envInt(env, 'HEARTH_MAX_MEMORY_MB', 2048, 1),
      maxOutputBytes: envInt(env, 'HEARTH_MAX_OUTPUT_BYTES', 16 * 1024 * 1024, 1),
      maxProcesses: envInt(env, 'HEARTH_MAX_PROCESSES', 512, 1),
    },
    compileTimeoutMs: envInt(env, 'HEARTH_COMPILE_TIMEOUT_MS', 30_000, 1),
    compileMemoryMb: envInt(env, 'HEARTH_COMPILE_MEMORY_MB', 1024, 1),
    poolSize: envInt(env, 'HEARTH_POOL_SIZE', 1),
    retentionMs: envInt(env, 'HEARTH_RETENTION_MS', 7 * 24 * 3600_000),
    retentionJobs: envInt(env, 'HEARTH_RETENTION_JOBS', 10_000),
    retentionIntervalMs: envInt(env, 'HEARTH_RETENTION_INTERVAL_MS', 10 * 60_000, 1000),
  };
}

/** The compile step's limits: the server's compile maxima, lowered where the job asked. */
export function resolveCompileLimits(
  config: JobsConfig,
  asked: Partial<CompileLimits> | undefined,
): CompileLimits {
  const max = {
    timeoutMs: config.compileTimeoutMs,
    cpuTimeMs: config.compileTimeoutMs,
    memoryMb: config.compileMemoryMb,
  };
  const out = { ...max };
  for (const key of ['timeoutMs', 'cpuTimeMs', 'memoryMb'] as const) {
    const v = asked?.[key];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 1)
      throw new HearthError('VALIDATION_FAILED', `compileLimits.${key} must be a positive integer`);
    if (v > max[key]) {
      throw new HearthError('LIMIT_TOO_HIGH', `compileLimits.${key} ${v} is above the maximum ${max[key]}`, {
        details: { limit: `compileLimits.${key}`, maximum: max[key] },
      });
    }
    out[key] = v;
  }
  if (asked?.cpuTimeMs === undefined) out.cpuTimeMs = out.timeoutMs;
  return out;
}

const LIMIT_KEYS = ['timeoutMs', 'cpuTimeMs', 'memoryMb', 'maxOutputBytes', 'maxProcesses'] as const;

/** The job's limits: the defaults with what it asked for, each checked against its maximum. */
export function resolveLimits(config: JobsConfig, asked: Partial<JobLimits> | undefined): JobLimits {
  const limits = { ...config.defaultLimits };
  for (const key of LIMIT_KEYS) {
    const v = asked?.[key];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 1) {
      throw new HearthError('VALIDATION_FAILED', `limits.${key} must be a positive integer`);
    }
    if (v > config.maxLimits[key]) {
      throw new HearthError(
        'LIMIT_TOO_HIGH',
        `limits.${key} ${v} is above the maximum ${config.maxLimits[key]}`,
        {
          details: { limit: key, maximum: config.maxLimits[key] },
        },
      );
    }
    limits[key] = v;
  }
  // The default CPU time follows a raised wall-clock limit, so asking only for timeoutMs is enough.
  if (asked?.cpuTimeMs === undefined)
    limits.cpuTimeMs = Math.min(config.maxLimits.cpuTimeMs, limits.timeoutMs);
  return limits;
}
