import { HearthError } from '../errors/hearth-error.js';

/**
 * A counting semaphore: at most `limit` holders at once, the rest wait in FIFO order. The job service
 * uses one for jobs that need a long-lived sandbox with the agent (a VM, a container with Node
 * inside), which cost far more host CPU and memory than a one-shot run.
 */
export class Limiter {
  readonly limit: number;
  #held = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.limit = Math.max(1, limit);
  }

  get held(): number {
    return this.#held;
  }

  /**
   * Waits for a slot; the returned function gives it back (idempotent). CANCELLED if `signal`
   * aborts while waiting.
   */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) throw new HearthError('CANCELLED', 'cancelled while waiting for a sandbox slot');
    if (this.#held < this.limit) this.#held++;
    else {
      await new Promise<void>((resolve, reject) => {
        const grant = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          const at = this.#waiting.indexOf(grant);
          if (at >= 0) this.#waiting.splice(at, 1);
          reject(new HearthError('CANCELLED', 'cancelled while waiting for a sandbox slot'));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.#waiting.push(grant);
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      // The slot passes straight to the next waiter; otherwise it is free again.
      if (next) next();
      else this.#held--;
    };
  }
}
