import type { BackendName } from '../backends/backend.js';

/** What ran: a command (argv, or a shell line) or code in an interpreter context. */
export type ExecWhat =
  | { kind: 'command'; argv: string[] }
  | { kind: 'command'; shell: string }
  | { kind: 'code'; language: string; code: string };

interface ExecEventBase {
  /** A per-manager sequence number, so a listener can pair `started` with `finished`. */
  execId: number;
  sandboxId: string;
  backend: BackendName;
  image: string;
  /** The sandbox's labels (owner, job, session, workflow …) and the caller's, merged. */
  labels: Record<string, string>;
  what: ExecWhat;
}

export interface ExecStartedEvent extends ExecEventBase {
  startedAtMs: number;
}

export interface ExecFinishedEvent extends ExecEventBase {
  startedAtMs: number;
  durationMs: number;
  /** null when a signal ended it, or when it never ran (see `error`). */
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** The first bytes of stderr (or of the interpreter's error), for failure signatures. */
  stderrHead: string;
  /** Set when the exec failed as a whole (sandbox lost, interpreter error) rather than exiting. */
  error?: { code: string; message: string };
}

export interface SandboxEndedEvent {
  sandboxId: string;
  backend: BackendName;
  labels: Record<string, string>;
  /** `released`: its owner let it go; `expired`: its TTL passed; `died`: it ended on its own. */
  reason: 'released' | 'expired' | 'died';
  error?: { code: string; message: string };
}

/** The manager's events; the learning service subscribes to `exec.finished`. */
export interface ManagerEvents {
  'exec.started': (e: ExecStartedEvent) => void;
  'exec.finished': (e: ExecFinishedEvent) => void;
  'sandbox.ended': (e: SandboxEndedEvent) => void;
}

/**
 * A typed emitter with a listener map. A listener that throws is reported through `onListenerError`
 * and never reaches the exec that emitted: observing must not fail what it observes.
 */
export class ManagerEventBus {
  readonly #listeners: { [K in keyof ManagerEvents]: Set<ManagerEvents[K]> } = {
    'exec.started': new Set(),
    'exec.finished': new Set(),
    'sandbox.ended': new Set(),
  };
  readonly #onListenerError: (err: unknown) => void;

  constructor(onListenerError: (err: unknown) => void = () => {}) {
    this.#onListenerError = onListenerError;
  }

  on<K extends keyof ManagerEvents>(event: K, listener: ManagerEvents[K]): () => void {
    const set = this.#listeners[event] as Set<ManagerEvents[K]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  emit<K extends keyof ManagerEvents>(event: K, payload: Parameters<ManagerEvents[K]>[0]): void {
    for (const listener of this.#listeners[event] as Set<(p: typeof payload) => void>) {
      try {
        listener(payload);
      } catch (err) {
        this.#onListenerError(err);
      }
    }
  }
}
