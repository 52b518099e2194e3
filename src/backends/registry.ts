import { hearthPaths } from '../config/paths.js';
import { HearthError } from '../errors/hearth-error.js';
import {
  BACKEND_NAMES,
  type BackendName,
  type BackendOptions,
  type Probe,
  type SandboxBackend,
} from './backend.js';

export type { BackendOptions } from './backend.js';

/** Loads a backend by name; each lives in its own folder and is imported only when asked for. */
export async function loadBackend(name: string, opts: BackendOptions = {}): Promise<SandboxBackend> {
  const o = { ...opts, paths: opts.paths ?? hearthPaths() };
  switch (name) {
    case 'bwrap':
      return (await import('./bwrap/bwrap-backend.js')).createBwrapBackend(o);
    case 'gvisor':
      return (await import('./gvisor/gvisor-backend.js')).createGvisorBackend(o);
    case 'qemu':
      return (await import('./qemu/qemu-backend.js')).createQemuBackend(o);
    case 'firecracker':
      return (await import('./firecracker/firecracker-backend.js')).createFirecrackerBackend(o);
    default:
      throw new HearthError(
        'UNKNOWN_BACKEND',
        `unknown backend "${name}"; known: ${BACKEND_NAMES.join(', ')}`,
      );
  }
}

export interface BackendReport {
  name: BackendName;
  probe: Probe;
  elapsedMs: number;
}

/** Probes every backend at once, each bounded by `deadlineMs`. */
export async function probeAll(
  opts: BackendOptions & { deadlineMs?: number } = {},
): Promise<BackendReport[]> {
  const deadlineMs = opts.deadlineMs ?? 9_000;
  return Promise.all(
    BACKEND_NAMES.map(async (name) => {
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<Probe>((resolve) => {
        timer = setTimeout(
          () => resolve({ usable: false, reason: `probe did not answer within ${deadlineMs} ms` }),
          deadlineMs,
        );
      });
      try {
        const backend = await loadBackend(name, opts);
        const probe = await Promise.race([backend.probe(), deadline]);
        return { name, probe, elapsedMs: performance.now() - started };
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        return { name, probe: { usable: false, reason }, elapsedMs: performance.now() - started };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}

/** Order of preference for the default backend: the fastest real isolation that works here. */
export const DEFAULT_PREFERENCE: readonly BackendName[] = ['bwrap', 'gvisor', 'qemu', 'firecracker'];
