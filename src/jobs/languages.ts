import type { HearthPaths } from '../config/paths.js';
import type { Catalog, LanguageDef } from '../images/catalog.js';
import { findImage } from '../images/store.js';
import type { SandboxManager } from '../sandboxes/manager.js';

export interface LanguageInfo {
  name: string;
  /** From the language's version command run in a sandbox; null until probed (or if it failed). */
  version: string | null;
  aliases: string[];
  image: string;
  compiled: boolean;
  /** Its image is built, so jobs can run. */
  available: boolean;
}

/** The first version-looking token of a version command's output (`Python 3.11.2` → `3.11.2`). */
export function parseVersion(output: string): string | null {
  return /\d+(?:\.\d+)+/.exec(output)?.[0] ?? /\d+/.exec(output)?.[0] ?? null;
}

/**
 * The catalog's languages with their versions. Versions are probed once per image, in the
 * background, at the first request that finds the image built; the request itself never waits.
 */
export class LanguageCatalog {
  readonly #catalog: Catalog;
  readonly #manager: SandboxManager;
  readonly #paths: HearthPaths | undefined;
  readonly #versions = new Map<string, string | null>();
  readonly #probed = new Map<string, Promise<void>>();
  readonly #stop = new AbortController();
  #closing: Promise<void> | undefined;

  constructor(opts: { catalog: Catalog; manager: SandboxManager; paths?: HearthPaths | undefined }) {
    this.#catalog = opts.catalog;
    this.#manager = opts.manager;
    this.#paths = opts.paths;
  }

  list(): LanguageInfo[] {
    const built = new Map<string, boolean>();
    for (const name of Object.keys(this.#catalog.images)) {
      const ok =
        findImage(name, { catalog: this.#catalog, ...(this.#paths ? { paths: this.#paths } : {}) }) !==
        undefined;
      built.set(name, ok);
      if (ok) this.probe(name);
    }
    return Object.values(this.#catalog.languages).map((l) => ({
      name: l.name,
      version: this.#versions.get(l.name) ?? null,
      aliases: l.aliases,
      image: l.image,
      compiled: l.compile !== undefined,
      available: built.get(l.image) ?? false,
    }));
  }

  /** Probes the versions of an image's languages (once); resolves when done, never rejects. */
  probe(image: string): Promise<void> {
    let p = this.#probed.get(image);
    if (!p && !this.#stop.signal.aborted) {
      const langs = Object.values(this.#catalog.languages).filter((l) => l.image === image);
      p = this.#run(image, langs).catch(() => {});
      this.#probed.set(image, p);
    }
    return p ?? Promise.resolve();
  }

  /** Stops probing: cancels a probe still running (its sandbox is freed) and waits for it. Idempotent. */
  close(): Promise<void> {
    this.#stop.abort();
    this.#closing ??= Promise.all(this.#probed.values()).then(() => {});
    return this.#closing;
  }

  async #run(image: string, langs: LanguageDef[]): Promise<void> {
    const ready = await this.#manager.backends.default();
    if (!ready.backend.runOnce || this.#stop.signal.aborted) return;
    const results = await this.#manager.runOnce(
      ready,
      { image, memoryMb: 1024, labels: { probe: 'versions' } },
      {
        // A file, so the work dir is set up as for any job.
        files: [{ path: '.version-probe', content: Buffer.alloc(0) }],
        steps: langs.map((l) => ({
          argv: l.version,
          env: { ...l.env },
          limits: { timeoutMs: 15_000, memoryMb: 1024 },
        })),
        signal: this.#stop.signal,
      },
    );
    for (const [i, r] of results.entries()) {
      const lang = langs[i];
      if (!lang || r.exitCode !== 0) continue;
      this.#versions.set(lang.name, parseVersion(`${r.stdout.toString()}\n${r.stderr.toString()}`));
    }
  }
}
