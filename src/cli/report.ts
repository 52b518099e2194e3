import { constants } from 'node:os';
import { HearthError } from '../errors/hearth-error.js';
import type { Job } from '../jobs/types.js';
import { HearthApiError } from '../sdk/errors.js';

/** Prints a hearth error (local or from a server) the CLI's way; returns the exit code 2. */
export function printError(err: unknown): number {
  if (err instanceof HearthError || err instanceof HearthApiError) {
    process.stderr.write(`hearth: ${err.message} [${err.code}]\n`);
    if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
    return 2;
  }
  throw err;
}

/**
 * One line with a finished job's timing and usage, for `hearth run --timing`:
 * `timing: queued=0ms start=12ms run=31ms total=44ms cpu=18ms peak_memory=9216KiB`
 * (undefined for a job that has no result, e.g. one hearth could not run).
 */
export function timingLine(job: Job): string | undefined {
  const r = job.result;
  if (!r) return undefined;
  const t = r.timing;
  return (
    `timing: queued=${t.queuedMs}ms start=${t.startMs}ms run=${t.runMs}ms total=${t.totalMs}ms ` +
    `cpu=${r.usage.cpuTimeMs}ms peak_memory=${r.usage.peakMemoryKb}KiB`
  );
}

/** The exit code a finished job maps to: the program's own (128+n for a signal), 2 for a hearth error. */
export function jobExitCode(job: Job): number {
  if (job.status === 'error' || !job.result) {
    const e = job.error;
    process.stderr.write(`hearth: ${e?.message ?? `job ${job.status}`} [${e?.code ?? 'INTERNAL'}]\n`);
    if (e?.hint) process.stderr.write(`hint: ${e.hint}\n`);
    return 2;
  }
  const r = job.result;
  if (r.timedOut) process.stderr.write(`hearth: ${r.stage} step timed out\n`);
  if (r.truncated) process.stderr.write('hearth: output was cut at the output limit\n');
  if (r.outOfMemory) process.stderr.write('hearth: the program ran out of memory\n');
  if (r.exitCode !== null) return r.exitCode;
  const n = r.signal ? constants.signals[r.signal as keyof typeof constants.signals] : undefined;
  return 128 + (n ?? 9);
}
