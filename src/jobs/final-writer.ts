import { type HearthError, toHearthError } from '../errors/hearth-error.js';
import type { FinishJob, JobStore } from '../store/job-store.js';
import type { Job, JobErrorInfo } from './types.js';

/** What a job ended as, and whether this call ended it (the first final write wins). */
export interface FinalOutcome {
  fin: FinishJob;
  wrote: boolean;
}

interface Held {
  fin: FinishJob;
  job: Job | undefined;
}

/**
 * Writes jobs' final state. When the store cannot take a result (disk full, I/O error) the job
 * still ends — with the store's error code instead of its result, never left queued or running:
 * that smaller error is written at once if it fits, else held here (answered by `held`) and
 * written by `flush` once the store takes writes again.
 */
export class FinalWriter {
  readonly #store: JobStore;
  readonly #onError: ((err: unknown, id: string) => void) | undefined;
  readonly #held = new Map<string, Held>();

  constructor(store: JobStore, onError?: (err: unknown, id: string) => void) {
    this.#store = store;
    this.#onError = onError;
  }

  /** `job` is the job as known before (live, or read from the store), kept for `held` if needed. */
  async finish(id: string, fin: FinishJob, job: Job | undefined): Promise<FinalOutcome> {
    if (this.#held.has(id)) return { fin: this.#held.get(id)?.fin ?? fin, wrote: false };
    try {
      return { fin, wrote: await this.#store.finish(id, fin) };
    } catch (err) {
      this.#onError?.(err, id);
      const error = errorInfo(toHearthError(err));
      const failed: FinishJob = { status: 'error', result: null, error, finishedAtMs: fin.finishedAtMs };
      try {
        return { fin: failed, wrote: await this.#store.finish(id, failed) };
      } catch {
        this.#held.set(id, { fin: failed, job });
        return { fin: failed, wrote: true };
      }
    }
  }

  /** A job whose final state is not written yet, as it ended; undefined for any other. */
  held(id: string): Job | undefined {
    const h = this.#held.get(id);
    if (!h?.job) return undefined;
    return { ...h.job, ...finalFields(h.fin) };
  }

  /** Overlays held final states (errors, without a result) on jobs read from the store, e.g. a list page. */
  overlay<T extends { id: string; result: unknown }>(job: T): T {
    const h = this.#held.get(job.id);
    if (!h) return job;
    const { status, error, finishedAt } = finalFields(h.fin);
    return { ...job, status, error, finishedAt, result: null };
  }

  get heldCount(): number {
    return this.#held.size;
  }

  /** Writes the held final states the store now takes; stops at the first it does not. */
  async flush(): Promise<void> {
    for (const [id, h] of this.#held) {
      try {
        await this.#store.finish(id, h.fin);
      } catch {
        return;
      }
      this.#held.delete(id);
    }
  }
}

export const errorInfo = (e: HearthError): JobErrorInfo => ({
  code: e.code,
  message: e.message,
  hint: e.hint,
});

export function finalFields(fin: FinishJob): Pick<Job, 'status' | 'result' | 'error' | 'finishedAt'> {
  return {
    status: fin.status,
    result: fin.result ?? null,
    error: fin.error ?? null,
    finishedAt: new Date(fin.finishedAtMs).toISOString(),
  };
}
