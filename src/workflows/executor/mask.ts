/**
 * The values a run must never show: its secrets and whatever a step masks with `::add-mask::`.
 * Every line a step prints, live and kept, goes through apply(); the CLI passes all it prints too.
 */

/** Values this short would blank out ordinary text (a secret `1` would mask every digit one). */
const MIN_MASK_CHARS = 2;
/** A hostile step could add masks without end; past this many, new ones are refused. */
const MAX_MASKS = 1024;
const MAX_MASK_CHARS = 64 * 1024;
export const MASK = '***';

export class SecretMask {
  readonly #values = new Set<string>();
  #sorted: string[] = [];

  /** Masks `value`, and each line of a multi-line value on its own (as GitHub's runner does). */
  add(value: string): void {
    const parts = [value, ...value.split(/\r?\n/)].map((v) => v.trim());
    let changed = false;
    for (const part of parts) {
      if (part.length < MIN_MASK_CHARS || part.length > MAX_MASK_CHARS) continue;
      if (this.#values.has(part) || this.#values.size >= MAX_MASKS) continue;
      this.#values.add(part);
      changed = true;
    }
    // Longest first, so a secret that contains another is masked whole.
    if (changed) this.#sorted = [...this.#values].sort((a, b) => b.length - a.length);
  }

  /** Masks every string value of a `secrets` context (JSON and multi-line ones too). */
  addAll(values: Record<string, unknown> | undefined): void {
    for (const v of Object.values(values ?? {})) if (typeof v === 'string') this.add(v);
  }

  get size(): number {
    return this.#values.size;
  }

  apply(text: string): string {
    let out = text;
    for (const v of this.#sorted) if (out.includes(v)) out = out.replaceAll(v, MASK);
    return out;
  }

  /** A copy of `value` with every string in it masked (keys too): for JSON documents and records. */
  applyDeep<T>(value: T): T {
    return this.#deep(value, 0) as T;
  }

  #deep(value: unknown, depth: number): unknown {
    if (typeof value === 'string') return this.apply(value);
    if (depth > 64 || value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((v) => this.#deep(v, depth + 1));
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [this.apply(k), this.#deep(v, depth + 1)]),
    );
  }
}
