import {
  type ExecHandle,
  type ExecHandlers,
  type RunRequest,
  type RunResult,
  runToEnd,
} from '../agent/client.js';
import { ReplClient, type RunCodeOptions, type RunCodeOutcome } from '../agent/client-repl.js';
import type { GuestCallHandler } from '../agent/guest-calls.js';
import type { ExecLimits, ExecRequest, FileStat } from '../agent/protocol.js';
import type { ReplContextInfo, ReplLanguage } from '../agent/repl-schema.js';
import type { BackendName, Capability, Sandbox, SandboxSpec } from '../backends/backend.js';
import { HearthError, toHearthError } from '../errors/hearth-error.js';
import type { ExecWhat, ManagerEventBus } from './events.js';

/** What a managed sandbox needs from its manager. */
export interface ManagedSandboxHost {
  readonly events: ManagerEventBus;
  /** Limits every exec gets at least, so the host's deadline and output cap always apply. */
  readonly execDefaults: Required<Pick<ExecLimits, 'timeoutMs' | 'maxOutputBytes'>>;
  readonly maxReadBytes: number;
  nextExecId(): number;
  /** Called once, when the sandbox is gone for whatever reason. */
  ended(sandbox: ManagedSandbox, reason: 'released' | 'expired' | 'died', err?: HearthError): Promise<void>;
}

const STDERR_HEAD_BYTES = 2048;

/**
 * A sandbox lent by the manager to one owner (a job, a session …). Every exec and code run goes
 * through here so the manager's events see it, every exec has a host-enforced deadline and output
 * cap (the agent client kills the sandbox when the guest overruns them), and a sandbox that dies on
 * its own is reported to its owner instead of leaving calls hanging.
 */
export class ManagedSandbox {
  readonly id: string;
  readonly backend: BackendName;
  readonly image: string;
  readonly capabilities: readonly Capability[];
  readonly labels: Readonly<Record<string, string>>;
  readonly createdAtMs = Date.now();
  expiresAtMs: number | undefined;
  readonly repl: ReplClient;
  readonly #sandbox: Sandbox;
  readonly #host: ManagedSandboxHost;
  readonly #onEnd = new Set<(reason: 'released' | 'expired' | 'died', err?: HearthError) => void>();
  #ended: Promise<void> | undefined;
  #deathError: HearthError | undefined;

  constructor(o: {
    sandbox: Sandbox;
    capabilities: readonly Capability[];
    labels: Record<string, string>;
    expiresAtMs?: number | undefined;
    host: ManagedSandboxHost;
  }) {
    this.#sandbox = o.sandbox;
    this.#host = o.host;
    this.id = o.sandbox.id;
    this.backend = o.sandbox.backend;
    this.image = o.sandbox.spec.image;
    this.capabilities = o.capabilities;
    this.labels = { ...o.sandbox.spec.labels, ...o.labels };
    this.expiresAtMs = o.expiresAtMs;
    this.repl = new ReplClient(o.sandbox.agent);
    o.sandbox.agent.onClose((err) => {
      if (this.#ended) return;
      const e = err
        ? toHearthError(err)
        : new HearthError('SANDBOX_LOST', `sandbox ${this.id} ended on its own`);
      this.#deathError = e;
      void this.#end('died', e);
    });
  }

  /** The backend's sandbox, for what only the backend does (snapshots). */
  get raw(): Sandbox {
    return this.#sandbox;
  }

  get spec(): Readonly<SandboxSpec> {
    return this.#sandbox.spec;
  }

  /** Set once the sandbox died on its own (killed from inside, lost agent, out of memory). */
  get deathError(): HearthError | undefined {
    return this.#deathError;
  }

  get alive(): boolean {
    return this.#ended === undefined;
  }

  onEnd(listener: (reason: 'released' | 'expired' | 'died', err?: HearthError) => void): () => void {
    this.#onEnd.add(listener);
    return () => this.#onEnd.delete(listener);
  }

  /**
   * Runs a process. `script` names what it runs in the exec events when the argv only points at a
   * file (a workflow step's `bash -e /tmp/…/script.sh`): the event then carries the script's text.
   */
  exec(
    req: ExecRequest,
    handlers: ExecHandlers = {},
    labels: Record<string, string> = {},
    opts: { script?: string } = {},
  ): ExecHandle {
    this.#assertAlive();
    const limits = { ...this.#host.execDefaults, ...req.limits };
    const what: ExecWhat =
      opts.script !== undefined
        ? { kind: 'command', shell: opts.script }
        : req.argv
          ? { kind: 'command', argv: req.argv }
          : { kind: 'command', shell: req.shell ?? '' };
    const watch = this.#watch(what, labels);
    const handle = this.#sandbox.agent.exec(
      { ...req, limits },
      {
        onStdout: (c) => handlers.onStdout?.(c),
        onStderr: (c) => {
          watch.stderr(c);
          handlers.onStderr?.(c);
        },
      },
    );
    handle.exit.then(
      (exit) => watch.finished({ exitCode: exit.exitCode, signal: exit.signal, timedOut: exit.timedOut }),
      (err: unknown) => watch.failed(err),
    );
    return handle;
  }

  run(req: RunRequest, handlers: ExecHandlers = {}, labels: Record<string, string> = {}): Promise<RunResult> {
    return runToEnd((r, h) => this.exec(r, h, labels), req, handlers);
  }

  async createContext(opts: {
    language: ReplLanguage;
    cwd?: string;
    env?: Record<string, string>;
  }): Promise<ReplContextInfo> {
    this.#assertAlive();
    return this.repl.createContext(opts);
  }

  async runCode(
    context: { id: string; language: string },
    code: string,
    opts: RunCodeOptions = {},
    labels: Record<string, string> = {},
  ): Promise<RunCodeOutcome> {
    this.#assertAlive();
    const watch = this.#watch({ kind: 'code', language: context.language, code }, labels);
    try {
      const out = await this.repl.runCode(context.id, code, {
        ...opts,
        onStderr: (c) => {
          watch.stderr(c);
          opts.onStderr?.(c);
        },
      });
      if (out.error) watch.stderr(Buffer.from(`${out.error.name}: ${out.error.value}`));
      watch.finished({ exitCode: out.error ? 1 : 0, signal: null, timedOut: out.timedOut });
      return out;
    } catch (err) {
      watch.failed(err);
      throw err;
    }
  }

  async readFile(path: string, opts: { maxBytes?: number } = {}): Promise<Buffer> {
    this.#assertAlive();
    const maxBytes = Math.min(opts.maxBytes ?? this.#host.maxReadBytes, this.#host.maxReadBytes);
    return this.#sandbox.agent.readFile(path, { maxBytes });
  }

  /** Reads a file a piece at a time (capped like readFile); resolves with its size. */
  async readFileStream(path: string, onChunk: (bytes: Buffer) => void): Promise<number> {
    this.#assertAlive();
    return this.#sandbox.agent.readFileStream(path, { maxBytes: this.#host.maxReadBytes, onChunk });
  }

  async writeFile(
    path: string,
    data: Buffer | string,
    opts: { mode?: number; append?: boolean } = {},
  ): Promise<void> {
    this.#assertAlive();
    return this.#sandbox.agent.writeFile(path, data, opts);
  }

  async list(path: string): Promise<FileStat[]> {
    this.#assertAlive();
    return this.#sandbox.agent.list(path);
  }

  async stat(path: string): Promise<FileStat> {
    this.#assertAlive();
    return this.#sandbox.agent.stat(path);
  }

  async mkdir(path: string, opts: { recursive?: boolean } = {}): Promise<void> {
    this.#assertAlive();
    return this.#sandbox.agent.mkdir(path, opts);
  }

  async remove(path: string, opts: { recursive?: boolean } = {}): Promise<void> {
    this.#assertAlive();
    return this.#sandbox.agent.remove(path, opts);
  }

  /**
   * Sets who answers `llm_query`, `llm_query_batched` and `rlm_query` from code in this sandbox's
   * interpreter contexts; undefined: those raise an error saying no model is attached.
   */
  setGuestCallHandler(handler: GuestCallHandler | undefined): void {
    this.#sandbox.agent.setCallHandler(handler);
  }

  /** Round trip to the agent, in ms. */
  async ping(): Promise<number> {
    this.#assertAlive();
    return this.#sandbox.agent.ping();
  }

  /** Destroys the sandbox and gives its slot back. Safe to call twice; never throws. */
  release(): Promise<void> {
    return this.#end('released');
  }

  /** Its TTL passed: the manager ends it and tells its owner. */
  expire(): Promise<void> {
    return this.#end('expired');
  }

  #end(reason: 'released' | 'expired' | 'died', err?: HearthError): Promise<void> {
    if (this.#ended) return this.#ended;
    // Set before anything runs: destroy() closes the agent synchronously, and its close handler
    // must see a sandbox that is already ending, not one that died on its own.
    let done!: () => void;
    this.#ended = new Promise<void>((r) => {
      done = r;
    });
    void (async () => {
      for (const l of this.#onEnd) {
        try {
          l(reason, err);
        } catch {
          // An owner's listener must not keep the sandbox alive.
        }
      }
      await this.#sandbox.destroy();
      await this.#host.ended(this, reason, err);
    })()
      .catch(() => {})
      .finally(() => done());
    return this.#ended;
  }

  #assertAlive(): void {
    if (this.#deathError) throw this.#deathError;
    if (this.#ended) throw new HearthError('SANDBOX_LOST', `sandbox ${this.id} has been released`);
  }

  /** Emits `exec.started` now and `exec.finished` once, keeping the head of stderr for signatures. */
  #watch(what: ExecWhat, labels: Record<string, string>) {
    const host = this.#host;
    const base = {
      execId: host.nextExecId(),
      sandboxId: this.id,
      backend: this.backend,
      image: this.image,
      labels: { ...this.labels, ...labels },
      what,
    };
    const startedAtMs = Date.now();
    const t0 = performance.now();
    host.events.emit('exec.started', { ...base, startedAtMs });
    let head = Buffer.alloc(0);
    let done = false;
    const finish = (
      f: { exitCode: number | null; signal: string | null; timedOut: boolean },
      err?: HearthError,
    ) => {
      if (done) return;
      done = true;
      host.events.emit('exec.finished', {
        ...base,
        startedAtMs,
        durationMs: performance.now() - t0,
        ...f,
        stderrHead: head.toString('utf8'),
        ...(err ? { error: { code: err.code, message: err.message } } : {}),
      });
    };
    return {
      stderr(c: Buffer) {
        if (head.length < STDERR_HEAD_BYTES)
          head = Buffer.concat([head, c.subarray(0, STDERR_HEAD_BYTES - head.length)]);
      },
      finished: (f: { exitCode: number | null; signal: string | null; timedOut: boolean }) => finish(f),
      failed: (err: unknown) => finish({ exitCode: null, signal: null, timedOut: false }, toHearthError(err)),
    };
  }
}
