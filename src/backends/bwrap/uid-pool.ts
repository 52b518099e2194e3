/**
 * Host uids for sandboxes: each live sandbox of this process runs as its own unprivileged uid,
 * `base + slot`, so RLIMIT_NPROC counts per sandbox and no sandbox shares an owner with another.
 * Slots are picked at random from a wide range so two hearth processes on one host rarely meet.
 */
export interface UidPoolOptions {
  /** First uid of the range. `HEARTH_UID_BASE`; @default 200000 */
  base?: number;
  /** How many uids the range holds. @default 60000 */
  size?: number;
}

export class UidPool {
  readonly #base: number;
  readonly #size: number;
  readonly #used = new Set<number>();

  constructor(opts: UidPoolOptions = {}) {
    this.#base = opts.base ?? (Number(process.env.HEARTH_UID_BASE) || 200_000);
    this.#size = opts.size ?? 60_000;
  }

  acquire(): number {
    for (;;) {
      const uid = this.#base + Math.floor(Math.random() * this.#size);
      if (!this.#used.has(uid)) {
        this.#used.add(uid);
        return uid;
      }
    }
  }

  release(uid: number): void {
    this.#used.delete(uid);
  }
}
