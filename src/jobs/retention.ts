import type { JobStore } from '../store/job-store.js';
import type { JobsConfig } from './config.js';

export interface RetentionOptions {
  store: JobStore;
  config: Pick<JobsConfig, 'retentionMs' | 'retentionJobs' | 'retentionIntervalMs'>;
  /** The clock retention measures age by. @default Date.now */
  now?: () => number;
  /** Runs before each pass (the service writes held final states first). */
  before?: () => Promise<void>;
  onPruned?: (deleted: number) => void;
  onError?: (err: unknown) => void;
}

/**
 * The retention policy: finished jobs older than `retentionMs` or beyond the newest
 * `retentionJobs` are deleted with their output; queued and running jobs never are. Runs at
 * `start()` and then every `retentionIntervalMs`; one pass at a time.
 */
export class Retention {
  readonly #o: RetentionOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;

  constructor(opts: RetentionOptions) {
    this.#o = opts;
  }

  /** One pass; returns how many jobs it deleted. Store errors reject (the periodic pass logs them). */
  run(nowMs: number = (this.#o.now ?? Date.now)()): Promise<number> {
    const pass = async (prev: Promise<unknown> | undefined) => {
      await prev?.catch(() => {});
      await this.#o.before?.();
      const deleted = await this.#o.store.prune({
        finishedBeforeMs: nowMs - this.#o.config.retentionMs,
        keepFinished: this.#o.config.retentionJobs,
      });
      if (deleted > 0) this.#o.onPruned?.(deleted);
      return deleted;
    };
    const p = pass(this.#running);
    this.#running = p;
    return p;
  }

  /** Runs a pass now and then periodically, until `stop()`. Idempotent. */
  start(): void {
    if (this.#timer) return;
    const tick = () => void this.run().catch((err) => this.#o.onError?.(err));
    this.#timer = setInterval(tick, this.#o.config.retentionIntervalMs);
    this.#timer.unref();
    tick();
  }

  /** Stops the periodic passes and waits for one under way. Idempotent. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => {});
  }
}
