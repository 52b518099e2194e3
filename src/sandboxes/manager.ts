import type { ExecLimits } from '../agent/protocol.js';
import type {
  BackendName,
  OneShotRequest,
  OneShotStepResult,
  Sandbox,
  SandboxBackend,
  SandboxSpec,
  SnapshotInfo,
} from '../backends/backend.js';
import type { HearthPaths } from '../config/paths.js';
import { HearthError } from '../errors/hearth-error.js';
import type { SandboxLedger } from '../host/ledger.js';
import { Limiter } from '../host/limiter.js';
import { BackendSet, type ReadyBackend } from './backend-set.js';
import { type ExecFinishedEvent, ManagerEventBus } from './events.js';
import { ManagedSandbox, type ManagedSandboxHost } from './managed-sandbox.js';
import { SandboxPool } from './pool.js';
import type { SandboxRowsPort } from './rows.js';
import { ownWorkerId } from './worker-id.js';

export interface SandboxManagerConfig {
  /** The backend used when a caller names none. @default the first usable of bwrap, gvisor, qemu, firecracker */
  defaultBackend?: string | undefined;
  /** Short-lived agent sandboxes at once (jobs that run through the agent); the rest wait. */
  slots: number;
  /** Ready sandboxes kept per backend and image for pooled acquires. 0 turns the pool off. */
  poolSize: number;
  /** The spec pooled sandboxes are made with. */
  poolSpec: Omit<SandboxSpec, 'image'>;
  /** Limits every exec gets at least, so the host's deadline and output cap always apply. */
  execDefaults: Required<Pick<ExecLimits, 'timeoutMs' | 'maxOutputBytes'>>;
  /** The most a file read may return, whatever the caller asks. */
  maxReadBytes: number;
  /** How long a sandbox row's lease lasts; the owner renews it every third of that. @default 30000 */
  leaseMs?: number;
  /** How often expired sandboxes are looked for. @default 1000 */
  sweepIntervalMs?: number;
}

export interface SandboxManagerOptions {
  config: SandboxManagerConfig;
  ledger?: SandboxLedger;
  paths?: HearthPaths;
  /** The store's sandbox rows; without it the manager keeps its sandboxes in memory only. */
  rows?: SandboxRowsPort;
  /** @default host name, pid and process start time */
  workerId?: string;
  onSandboxAllocated?: (seconds: number) => void;
  onWarning?: (obj: object, msg: string) => void;
}

export interface AcquireRequest {
  image: string;
  /** A backend name; @default the configured default */
  backend?: string | undefined;
  /** Resources and environment; ignored for a pooled sandbox, which has the pool's spec. */
  spec?: Omit<SandboxSpec, 'image' | 'labels'>;
  /** Who holds it (`{ job: id }`, `{ session: id }` …): on its row, its ledger record and its exec events. */
  labels: Record<string, string>;
  /** Take a ready sandbox from the pool when there is one. @default false */
  pooled?: boolean;
  /** `short`: waits for one of the manager's slots (jobs). `long`: the owner bounds its own count (sessions). */
  slot: 'short' | 'long';
  /** Start it from this snapshot (the backend's `restore`) instead of fresh. */
  from?: SnapshotInfo;
  /** The sandbox is released when this passes, and its owner told through `onEnd`. */
  expiresAtMs?: number;
  signal?: AbortSignal;
}

/**
 * The one way services get sandboxes (DESIGN §1). It chooses the backend, owns the warm pool and
 * the slots, keeps a row per sandbox in the store with a lease it renews (so another worker can tell
 * a live owner from a dead one), ends sandboxes whose TTL passed, and emits typed events for every
 * exec and code run. The host-side deadline, output cap and liveness watch of each exec live in the
 * agent client it drives; the manager makes sure every exec has a deadline for them to enforce.
 */
export class SandboxManager {
  readonly backends: BackendSet;
  readonly events: ManagerEventBus;
  readonly slots: Limiter;
  readonly pool: SandboxPool;
  readonly workerId: string;
  readonly #config: SandboxManagerConfig;
  readonly #rows: SandboxRowsPort | undefined;
  readonly #live = new Map<string, ManagedSandbox>();
  readonly #slotRelease = new Map<string, () => void>();
  readonly #warn: (obj: object, msg: string) => void;
  readonly #host: ManagedSandboxHost;
  readonly #onAllocated: ((seconds: number) => void) | undefined;
  #execSeq = 0;
  #timers: NodeJS.Timeout[] = [];
  #closing: Promise<void> | undefined;

  constructor(opts: SandboxManagerOptions) {
    this.#config = opts.config;
    this.#rows = opts.rows;
    this.#warn = opts.onWarning ?? (() => {});
    this.#onAllocated = opts.onSandboxAllocated;
    this.workerId = opts.workerId ?? ownWorkerId();
    this.events = new ManagerEventBus((err) => this.#warn({ err }, 'an exec event listener failed'));
    this.backends = new BackendSet({
      ...(opts.ledger ? { ledger: opts.ledger } : {}),
      ...(opts.paths ? { paths: opts.paths } : {}),
      defaultBackend: opts.config.defaultBackend,
    });
    this.slots = new Limiter(opts.config.slots);
    this.pool = new SandboxPool({
      size: opts.config.poolSize,
      spec: opts.config.poolSpec,
      ...(opts.onSandboxAllocated ? { onAllocated: opts.onSandboxAllocated } : {}),
      onError: (err) => this.#warn({ err }, 'pool refill failed'),
    });
    this.#host = {
      events: this.events,
      execDefaults: opts.config.execDefaults,
      maxReadBytes: opts.config.maxReadBytes,
      nextExecId: () => ++this.#execSeq,
      ended: (s, reason, err) => this.#ended(s, reason, err),
    };
  }

  get leaseMs(): number {
    return this.#config.leaseMs ?? 30_000;
  }

  /** Starts the lease renewal and the TTL sweep. `close()` stops them. */
  start(): void {
    if (this.#timers.length || this.#closing) return;
    const renew = setInterval(() => void this.#renewLeases(), Math.max(1000, this.leaseMs / 3));
    const sweep = setInterval(() => this.#sweep(), this.#config.sweepIntervalMs ?? 1000);
    renew.unref();
    sweep.unref();
    this.#timers = [renew, sweep];
  }

  /** A sandbox for `req.labels`' owner, which must `release()` it (the manager ends it at its TTL). */
  async acquire(req: AcquireRequest): Promise<ManagedSandbox> {
    if (this.#closing) throw new HearthError('SHUTTING_DOWN', 'the server is shutting down');
    const { backend } = await this.backends.get(req.backend);
    const releaseSlot = req.slot === 'short' ? await this.slots.acquire(req.signal) : undefined;
    let handedOver = false;
    try {
      const started = performance.now();
      const spec = { ...req.spec, image: req.image, labels: req.labels };
      const signal = req.signal ? { signal: req.signal } : {};
      let sandbox: Sandbox;
      if (req.from) {
        if (!backend.restore)
          throw new HearthError(
            'SNAPSHOT_KIND_UNSUPPORTED',
            `backend ${backend.name} cannot restore snapshots`,
          );
        sandbox = await backend.restore(req.from, spec, signal);
      } else if (req.pooled) sandbox = await this.pool.acquire(backend, req.image, req.signal);
      else sandbox = await backend.create(spec, signal);
      if (!req.pooled || req.from) this.#onAllocated?.((performance.now() - started) / 1000);
      const managed = new ManagedSandbox({
        sandbox,
        capabilities: backend.capabilities(),
        labels: req.labels,
        expiresAtMs: req.expiresAtMs,
        host: this.#host,
      });
      this.#live.set(managed.id, managed);
      if (releaseSlot) this.#slotRelease.set(managed.id, releaseSlot);
      handedOver = true;
      try {
        await this.#rows?.insertSandbox({
          id: managed.id,
          backend: backend.name,
          image: req.image,
          state: 'leased',
          spec: { ...sandbox.spec },
          ownerWorker: this.workerId,
          leaseUntilMs: Date.now() + this.leaseMs,
          expiresAtMs: req.expiresAtMs ?? null,
          labels: managed.labels,
          createdAtMs: managed.createdAtMs,
        });
      } catch (err) {
        await managed.release();
        throw err;
      }
      return managed;
    } catch (err) {
      // Once the managed sandbox exists, its release gives the slot back.
      if (!handedOver) releaseSlot?.();
      throw err;
    }
  }

  /**
   * A fresh sandbox for one program without the agent (backends with `one-shot`), its steps reported
   * as exec events like every other exec.
   */
  async runOnce(ready: ReadyBackend, spec: SandboxSpec, req: OneShotRequest): Promise<OneShotStepResult[]> {
    const backend: SandboxBackend = ready.backend;
    if (!backend.runOnce) throw new HearthError('INTERNAL', `backend ${backend.name} has no one-shot runs`);
    const startedAtMs = Date.now();
    const results = await backend.runOnce(spec, req);
    let at = startedAtMs;
    for (const [i, r] of results.entries()) {
      const step = req.steps[i];
      if (!step) continue;
      this.#emitStep(backend.name, spec, step.argv, r, at);
      at += r.wallTimeMs;
    }
    return results;
  }

  get(id: string): ManagedSandbox | undefined {
    return this.#live.get(id);
  }

  /** The sandboxes this manager holds now. */
  list(): ManagedSandbox[] {
    return [...this.#live.values()];
  }

  /** Sets a sandbox's expiry (and its row's). */
  async extend(sandbox: ManagedSandbox, expiresAtMs: number): Promise<void> {
    sandbox.expiresAtMs = expiresAtMs;
    await this.#rows?.updateSandbox(sandbox.id, { expiresAtMs });
  }

  /** Releases every sandbox it holds, drains the pool, closes the backends. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const t of this.#timers) clearInterval(t);
      await Promise.all(this.list().map((s) => s.release()));
      await this.pool.close();
      await this.backends.close();
    })();
    return this.#closing;
  }

  async #ended(s: ManagedSandbox, reason: 'released' | 'expired' | 'died', err?: HearthError): Promise<void> {
    this.#live.delete(s.id);
    this.#slotRelease.get(s.id)?.();
    this.#slotRelease.delete(s.id);
    await this.#rows
      ?.deleteSandbox(s.id)
      .catch((e: unknown) =>
        this.#warn({ err: e, sandbox: s.id }, 'cannot delete the sandbox row; its lease will lapse'),
      );
    this.events.emit('sandbox.ended', {
      sandboxId: s.id,
      backend: s.backend,
      labels: { ...s.labels },
      reason,
      ...(err ? { error: { code: err.code, message: err.message } } : {}),
    });
  }

  async #renewLeases(): Promise<void> {
    if (!this.#rows || !this.#live.size) return;
    try {
      await this.#rows.renewLeases(this.workerId, Date.now() + this.leaseMs);
    } catch (err) {
      this.#warn({ err }, 'cannot renew the sandbox leases; retrying');
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const s of this.#live.values()) {
      if (s.expiresAtMs !== undefined && s.expiresAtMs <= now) void s.expire();
    }
  }

  #emitStep(
    backend: BackendName,
    spec: SandboxSpec,
    argv: string[],
    r: OneShotStepResult,
    startedAtMs: number,
  ): void {
    const event: ExecFinishedEvent = {
      execId: ++this.#execSeq,
      sandboxId: `once:${this.#execSeq}`,
      backend,
      image: spec.image,
      labels: { ...spec.labels },
      what: { kind: 'command', argv },
      startedAtMs,
      durationMs: r.wallTimeMs,
      exitCode: r.exitCode,
      signal: r.signal,
      timedOut: r.timedOut,
      stderrHead: r.stderr.subarray(0, 2048).toString('utf8'),
    };
    const { durationMs: _d, exitCode: _e, signal: _s, timedOut: _t, stderrHead: _h, ...started } = event;
    this.events.emit('exec.started', started);
    this.events.emit('exec.finished', event);
  }
}
