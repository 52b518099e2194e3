import type { BackendName, Probe, SandboxBackend } from '../backends/backend.js';
import { BACKEND_NAMES } from '../backends/backend.js';
import { type BackendOptions, DEFAULT_PREFERENCE, loadBackend } from '../backends/registry.js';
import { HearthError } from '../errors/hearth-error.js';

export interface ReadyBackend {
  backend: SandboxBackend;
  probe: Probe;
}

/** Probes that do not answer within this are taken as unusable. */
const PROBE_DEADLINE_MS = 10_000;

async function boundedProbe(backend: SandboxBackend): Promise<Probe> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<Probe>((resolve) => {
    timer = setTimeout(
      () => resolve({ usable: false, reason: `probe did not answer within ${PROBE_DEADLINE_MS} ms` }),
      PROBE_DEADLINE_MS,
    );
  });
  try {
    return await Promise.race([backend.probe(), deadline]);
  } catch (err) {
    return { usable: false, reason: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The backends the job service uses: each loaded and probed once (never per job), the default
 * chosen as the first usable one in DEFAULT_PREFERENCE unless configured.
 */
export class BackendSet {
  readonly #opts: BackendOptions;
  readonly #configured: string | undefined;
  readonly #loaded = new Map<string, Promise<ReadyBackend>>();
  #default: Promise<ReadyBackend> | undefined;

  constructor(opts: BackendOptions & { defaultBackend?: string | undefined }) {
    this.#opts = { ledger: opts.ledger, ...(opts.paths ? { paths: opts.paths } : {}) };
    this.#configured = opts.defaultBackend;
  }

  static isKnown(name: string): name is BackendName {
    return (BACKEND_NAMES as readonly string[]).includes(name);
  }

  /** The named backend, loaded and probed; BACKEND_UNAVAILABLE with the probe's reason if unusable. */
  async get(name?: string): Promise<ReadyBackend> {
    const ready = await (name === undefined ? this.default() : this.#load(name));
    if (!ready.probe.usable) {
      throw new HearthError(
        'BACKEND_UNAVAILABLE',
        `backend ${ready.backend.name} is not usable here: ${ready.probe.reason}`,
      );
    }
    return ready;
  }

  default(): Promise<ReadyBackend> {
    this.#default ??= this.#pickDefault();
    return this.#default;
  }

  /** Backends loaded so far, for health reports. */
  async loaded(): Promise<ReadyBackend[]> {
    const all = await Promise.allSettled(this.#loaded.values());
    return all.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  }

  async close(): Promise<void> {
    for (const r of await this.loaded()) await r.backend.close?.().catch(() => {});
  }

  #load(name: string): Promise<ReadyBackend> {
    let p = this.#loaded.get(name);
    if (!p) {
      p = (async () => {
        const backend = await loadBackend(name, this.#opts);
        return { backend, probe: await boundedProbe(backend) };
      })();
      p.catch(() => this.#loaded.delete(name));
      this.#loaded.set(name, p);
    }
    return p;
  }

  async #pickDefault(): Promise<ReadyBackend> {
    if (this.#configured) return this.#load(this.#configured);
    const reasons: string[] = [];
    for (const name of DEFAULT_PREFERENCE) {
      try {
        const ready = await this.#load(name);
        if (ready.probe.usable) return ready;
        reasons.push(`${name}: ${ready.probe.reason}`);
      } catch (err) {
        reasons.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.#default = undefined;
    throw new HearthError('BACKEND_UNAVAILABLE', `no sandbox backend is usable here (${reasons.join('; ')})`);
  }
}
