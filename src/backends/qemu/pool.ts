import type { QemuSandbox } from './qemu-sandbox.js';

export interface WarmPoolOptions {
  /** Ready VMs to keep. @default 1 */
  size: number;
  /** Makes one ready VM (a restore from the template). */
  make: () => Promise<QemuSandbox>;
  /** Called when a refill fails (the pool stops refilling until the next take). */
  onError?: (err: unknown) => void;
}

/**
 * A few restored, ready VMs for one template. `take()` hands each out once and starts a refill in
 * the background; `drain()` destroys what is left and stops refilling.
 */
export class WarmPool {
  readonly #opts: WarmPoolOptions;
  readonly #ready: QemuSandbox[] = [];
  #filling = 0;
  #closed = false;
  #failed = false;
  readonly #inflight = new Set<Promise<void>>();

  constructor(opts: WarmPoolOptions) {
    this.#opts = opts;
  }

  get readyCount(): number {
    return this.#ready.length;
  }

  /** A ready VM, or undefined when none is ready yet. Starts refilling either way. */
  take(): QemuSandbox | undefined {
    this.#failed = false;
    let vm = this.#ready.shift();
    // A pooled VM can die while it waits (QEMU killed from outside): skip it.
    while (vm && (vm.vm.exited || vm.agent.closed)) {
      void vm.destroy();
      vm = this.#ready.shift();
    }
    this.fill();
    return vm;
  }

  /** Starts restores until ready + in progress reaches the pool size. One at a time: restores share 2 cores. */
  fill(): void {
    if (this.#closed || this.#failed) return;
    if (this.#filling > 0 || this.#ready.length >= this.#opts.size) return;
    this.#filling++;
    const p = this.#opts
      .make()
      .then(async (vm) => {
        if (this.#closed) await vm.destroy();
        else this.#ready.push(vm);
      })
      .catch((err) => {
        this.#failed = true;
        this.#opts.onError?.(err);
      })
      .finally(() => {
        this.#filling--;
        this.#inflight.delete(p);
        this.fill();
      });
    this.#inflight.add(p);
  }

  /** Resolves once the pool is full (or refilling failed or it closed). */
  async whenFull(): Promise<void> {
    while (!this.#closed && !this.#failed && this.#ready.length < this.#opts.size) {
      this.fill();
      await Promise.race([...this.#inflight, new Promise((r) => setTimeout(r, 50))]);
    }
  }

  /** Stops refilling and destroys every ready VM (and those still being made). Idempotent. */
  async drain(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#inflight]);
    await Promise.allSettled(this.#ready.splice(0).map((vm) => vm.destroy()));
  }
}
