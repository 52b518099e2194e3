import type { Sandbox, SandboxBackend, SandboxSpec } from '../backends/backend.js';

export interface SandboxPoolOptions {
  /** Ready sandboxes kept per backend and image. 0 turns the pool off. @default 1 */
  size?: number;
  /** The spec every pooled sandbox is created with (per-exec limits narrow it per job). */
  spec: Omit<SandboxSpec, 'image'>;
  /** Called after every sandbox creation with how long it took. */
  onAllocated?: (seconds: number) => void;
  /**
   * Run once in each sandbox the pool makes before it is handed out: the first exec in a sandbox
   * starts its agent's exec server (tens of ms), which the refill pays instead of the checkout's
   * first command. A failure is ignored (the checkout finds a dead sandbox and skips it). [] turns
   * it off. @default ['true']
   */
  warmArgv?: string[];
  /** Called when a background refill fails (the pool retries at the next checkout). */
  onError?: (err: unknown) => void;
}

/** How long the warm-up command may run in a new pooled sandbox. */
const WARM_TIMEOUT_MS = 10_000;

interface Slot {
  ready: Sandbox[];
  filling: number;
}

/**
 * Keeps N ready sandboxes per (backend, image) for backends that have no pool of their own, refilled
 * in the background after each checkout. A sandbox is handed out once and never comes back: every
 * job gets a fresh one, and the job destroys it.
 */
export class SandboxPool {
  readonly #size: number;
  readonly #opts: SandboxPoolOptions;
  readonly #slots = new Map<string, Slot>();
  readonly #backends = new Map<string, SandboxBackend>();
  readonly #background = new Set<Promise<void>>();
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(opts: SandboxPoolOptions) {
    this.#size = opts.size ?? 1;
    this.#opts = opts;
  }

  get readyCount(): number {
    let n = 0;
    for (const s of this.#slots.values()) n += s.ready.length;
    return n;
  }

  /** A fresh sandbox: from the pool when one is ready, else created now. */
  async acquire(backend: SandboxBackend, image: string, signal?: AbortSignal): Promise<Sandbox> {
    const usePool = this.#size > 0 && !this.#closed && !backend.capabilities().includes('warm-pool');
    if (!usePool) return this.#create(backend, image, signal);
    const key = `${backend.name}:${image}`;
    this.#backends.set(key, backend);
    const slot = this.#slot(key);
    let sandbox = slot.ready.shift();
    while (sandbox?.agent.closed) {
      this.#track(sandbox.destroy());
      sandbox = slot.ready.shift();
    }
    this.#refill(key, image);
    return sandbox ?? this.#create(backend, image, signal);
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      // Refills still starting destroy their sandbox as it arrives: wait for them too.
      await Promise.all(this.#background);
      const all = [...this.#slots.values()].flatMap((s) => s.ready.splice(0));
      await Promise.all(all.map((s) => s.destroy()));
    })();
    return this.#closing;
  }

  #slot(key: string): Slot {
    let slot = this.#slots.get(key);
    if (!slot) {
      slot = { ready: [], filling: 0 };
      this.#slots.set(key, slot);
    }
    return slot;
  }

  #refill(key: string, image: string): void {
    const slot = this.#slot(key);
    const backend = this.#backends.get(key);
    if (!backend) return;
    while (!this.#closed && slot.ready.length + slot.filling < this.#size) {
      slot.filling++;
      this.#track(
        this.#create(backend, image)
          .then(async (sandbox) => {
            await this.#warm(sandbox);
            if (this.#closed) await sandbox.destroy();
            else slot.ready.push(sandbox);
          })
          .catch((err: unknown) => this.#opts.onError?.(err))
          .finally(() => {
            slot.filling--;
          }),
      );
    }
  }

  async #warm(sandbox: Sandbox): Promise<void> {
    const argv = this.#opts.warmArgv ?? ['true'];
    if (!argv.length) return;
    await sandbox.agent.run({ argv, limits: { timeoutMs: WARM_TIMEOUT_MS } }).catch(() => {});
  }

  /** Background work (refills, destroys of dead sandboxes) that close() waits for. */
  #track(work: Promise<void>): void {
    const p = work.catch(() => {}).finally(() => this.#background.delete(p));
    this.#background.add(p);
  }

  async #create(backend: SandboxBackend, image: string, signal?: AbortSignal): Promise<Sandbox> {
    const started = performance.now();
    const sandbox = await backend.create({ ...this.#opts.spec, image }, signal ? { signal } : {});
    this.#opts.onAllocated?.((performance.now() - started) / 1000);
    return sandbox;
  }
}
