import { HearthError } from '../errors/hearth-error.js';

export interface SchedulerOptions {
  /** Jobs running at once. */
  concurrency: number;
  /** Jobs waiting beyond the running ones. */
  maxQueue: number;
  /** Runs one job; its signal aborts when the job is cancelled or the scheduler shuts down. */
  run: (id: string, signal: AbortSignal) => Promise<void>;
}

/** Why a running job's signal was aborted. */
export type AbortReason = 'cancelled' | 'shutdown';

/** A FIFO queue in front of a bounded number of running jobs. In-process; the queue port's embedded default. */
export class Scheduler {
  readonly #opts: SchedulerOptions;
  readonly #queue: string[] = [];
  readonly #running = new Map<string, { ctrl: AbortController; done: Promise<void> }>();
  #accepting = true;

  constructor(opts: SchedulerOptions) {
    this.#opts = opts;
  }

  get depth(): number {
    return this.#queue.length;
  }

  get runningCount(): number {
    return this.#running.size;
  }

  get concurrency(): number {
    return this.#opts.concurrency;
  }

  /** Throws QUEUE_FULL (or SHUTTING_DOWN) if `n` more jobs would not fit. */
  assertRoom(n = 1): void {
    if (!this.#accepting) throw new HearthError('SHUTTING_DOWN', 'the server is shutting down');
    const free = this.#opts.concurrency - this.#running.size;
    if (this.#queue.length + n - Math.max(0, free) > this.#opts.maxQueue) {
      throw new HearthError('QUEUE_FULL', `the queue is full (${this.#opts.maxQueue} waiting jobs)`);
    }
  }

  enqueue(id: string): void {
    this.#queue.push(id);
    this.#pump();
  }

  isRunning(id: string): boolean {
    return this.#running.has(id);
  }

  /** Removes a queued job (true) or aborts a running one and waits for it to end. */
  async cancel(id: string): Promise<'dequeued' | 'aborted' | 'unknown'> {
    const at = this.#queue.indexOf(id);
    if (at >= 0) {
      this.#queue.splice(at, 1);
      return 'dequeued';
    }
    const entry = this.#running.get(id);
    if (!entry) return 'unknown';
    entry.ctrl.abort('cancelled' satisfies AbortReason);
    await entry.done;
    return 'aborted';
  }

  /**
   * Stops starting jobs; waits up to `graceMs` for running ones, then aborts them and waits for them to
   * end. Returns the ids still queued (they stay queued in the store and run at the next start).
   */
  async drain(graceMs: number): Promise<string[]> {
    this.#accepting = false;
    const left = this.#queue.splice(0);
    const all = () => Promise.all([...this.#running.values()].map((e) => e.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all().then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      for (const e of this.#running.values()) e.ctrl.abort('shutdown' satisfies AbortReason);
      await all();
    }
    return left;
  }

  #pump(): void {
    while (this.#accepting && this.#running.size < this.#opts.concurrency) {
      const id = this.#queue.shift();
      if (id === undefined) return;
      const ctrl = new AbortController();
      const done = this.#opts
        .run(id, ctrl.signal)
        .catch(() => {})
        .finally(() => {
          this.#running.delete(id);
          this.#pump();
        });
      this.#running.set(id, { ctrl, done });
    }
  }
}
