import type {
  CodeContext,
  CodeLanguage,
  ContextCreateRequest,
  Session,
  SessionCreateRequest,
  Snapshot,
  SnapshotKind,
} from '../api/sessions.js';
import type { SessionFilter, SessionsApi } from '../api/sessions-api.js';
import { Commands } from './commands.js';
import { isNotFound, TimeoutError } from './errors.js';
import { Execution, type Logs } from './execution.js';
import { Files } from './files.js';
import type { ConnectionOptions } from './http.js';
import { SessionsClient } from './sessions-client.js';

/** How to reach hearth: a server (HTTP), or any SessionsApi (e.g. one embedded in this process). */
export interface SandboxConnectOptions extends ConnectionOptions {
  /** Use this API instead of an HTTP client built from the connection options. */
  api?: SessionsApi;
}

export interface SandboxCreateOptions extends SandboxConnectOptions {
  /** A catalog image. @default the server's default image */
  image?: string;
  /** E2B's name for `image`. */
  template?: string;
  /** Or a language: the session gets its image. */
  language?: string;
  /** @default the server's choice */
  backend?: string;
  /** How long the sandbox lives without `setTimeout` (E2B's name). @default 1800000 (30 minutes) */
  timeoutMs?: number;
  /** @default the server's default for sessions (512) */
  memoryMb?: number;
  /** @default 1 */
  vcpus?: number;
  /** Writable disk. @default 256 */
  diskMb?: number;
  /** Environment variables of every command and context. @default {} */
  envs?: Record<string, string>;
  /** Labels to find the sandbox by (`Sandbox.list({ metadata })`). @default {} */
  metadata?: Record<string, string>;
}

export interface RunCodeOptions {
  /** @default 'python' (or the context's language) */
  language?: CodeLanguage;
  /** A context (or its id) from `createCodeContext`; @default the session's context of the language */
  context?: CodeContext | string;
  onStdout?: (data: string) => void;
  onStderr?: (data: string) => void;
  /** @default 60000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

const apiOf = (o: SandboxConnectOptions): SessionsApi => o.api ?? new SessionsClient(o);

function createRequest(o: SandboxCreateOptions): SessionCreateRequest {
  const image = o.image ?? o.template;
  return {
    ...(image !== undefined ? { image } : {}),
    ...(o.language !== undefined ? { language: o.language } : {}),
    ...(o.backend !== undefined ? { backend: o.backend } : {}),
    ...(o.timeoutMs !== undefined ? { ttlMs: o.timeoutMs } : {}),
    ...(o.memoryMb !== undefined ? { memoryMb: o.memoryMb } : {}),
    ...(o.vcpus !== undefined ? { vcpus: o.vcpus } : {}),
    ...(o.diskMb !== undefined ? { diskMb: o.diskMb } : {}),
    ...(o.envs ? { env: o.envs } : {}),
    ...(o.metadata ? { metadata: o.metadata } : {}),
  };
}

/**
 * A hearth session as an E2B-like sandbox: it lives on the server until `kill()` or its timeout, so
 * any process can `Sandbox.connect(id)` to it again.
 */
export class Sandbox {
  readonly sandboxId: string;
  readonly commands: Commands;
  readonly files: Files;
  readonly snapshots: {
    /** @default the richest kind the backend has */
    create(opts?: { name?: string; kind?: SnapshotKind }): Promise<Snapshot>;
    list(): Promise<Snapshot[]>;
    /** Puts the session back as it was at the snapshot; the sandbox keeps its id. */
    restore(snapshot: Snapshot | string): Promise<Session>;
    delete(snapshot: Snapshot | string): Promise<void>;
  };
  readonly #api: SessionsApi;

  protected constructor(api: SessionsApi, sessionId: string) {
    this.#api = api;
    this.sandboxId = sessionId;
    this.commands = new Commands(api, sessionId, api instanceof SessionsClient ? api.http : undefined);
    this.files = new Files(api, sessionId);
    const idOf = (s: Snapshot | string) => (typeof s === 'string' ? s : s.id);
    this.snapshots = {
      create: (opts = {}) => api.createSnapshot(sessionId, opts),
      list: () => api.listSnapshots(sessionId),
      restore: (s) => api.restoreSnapshot(sessionId, idOf(s)),
      delete: (s) => api.deleteSnapshot(idOf(s)),
    };
  }

  /** Starts a new session; as in E2B, the image (template) may come first. */
  static async create(opts?: SandboxCreateOptions): Promise<Sandbox>;
  static async create(template: string, opts?: SandboxCreateOptions): Promise<Sandbox>;
  static async create(a: string | SandboxCreateOptions = {}, b: SandboxCreateOptions = {}): Promise<Sandbox> {
    const opts = typeof a === 'string' ? { ...b, image: a } : a;
    const api = apiOf(opts);
    const session = await api.createSession(createRequest(opts));
    return new Sandbox(api, session.id);
  }

  /** An existing session, by id (a paused one is resumed by its next call). */
  static async connect(sandboxId: string, opts: SandboxConnectOptions = {}): Promise<Sandbox> {
    const api = apiOf(opts);
    await api.getSession(sandboxId);
    return new Sandbox(api, sandboxId);
  }

  /** Resumes a paused session and connects to it. */
  static async resume(sandboxId: string, opts: SandboxConnectOptions = {}): Promise<Sandbox> {
    const api = apiOf(opts);
    await api.resumeSession(sandboxId);
    return new Sandbox(api, sandboxId);
  }

  /** A new session started from a snapshot; the snapshot's own session goes on unchanged. */
  static async fork(
    snapshot: Snapshot | string,
    opts: SandboxConnectOptions & { timeoutMs?: number; metadata?: Record<string, string> } = {},
  ): Promise<Sandbox> {
    const api = apiOf(opts);
    const session = await api.forkSnapshot(typeof snapshot === 'string' ? snapshot : snapshot.id, {
      ...(opts.timeoutMs !== undefined ? { ttlMs: opts.timeoutMs } : {}),
      ...(opts.metadata ? { metadata: opts.metadata } : {}),
    });
    return new Sandbox(api, session.id);
  }

  /** Sessions on the server, filtered by metadata and state. */
  static list(opts: SandboxConnectOptions & SessionFilter = {}): Promise<Session[]> {
    const { metadata, states } = opts;
    return apiOf(opts).listSessions({ ...(metadata ? { metadata } : {}), ...(states ? { states } : {}) });
  }

  /** Ends a session by id: its sandbox and snapshots are freed. */
  static async kill(sandboxId: string, opts: SandboxConnectOptions = {}): Promise<void> {
    await apiOf(opts).deleteSession(sandboxId);
  }

  /**
   * Runs code in a persistent interpreter: variables survive between calls in the same context.
   * A run past its timeout throws TimeoutError (its partial output in `details.result`).
   */
  async runCode(code: string, opts: RunCodeOptions = {}): Promise<Execution> {
    const context = typeof opts.context === 'string' ? opts.context : opts.context?.id;
    const logs: Logs = { stdout: [], stderr: [] };
    const stream = Boolean(opts.onStdout || opts.onStderr);
    const r = await this.#api.runCode(
      this.sandboxId,
      {
        code,
        ...(opts.language ? { language: opts.language } : {}),
        ...(context ? { context } : {}),
        ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      },
      stream
        ? {
            onStdout: (d) => {
              logs.stdout.push(d);
              opts.onStdout?.(d);
            },
            onStderr: (d) => {
              logs.stderr.push(d);
              opts.onStderr?.(d);
            },
            ...(opts.signal ? { signal: opts.signal } : {}),
          }
        : { ...(opts.signal ? { signal: opts.signal } : {}) },
    );
    if (r.timedOut) {
      throw new TimeoutError(200, {
        code: 'CODE_TIMEOUT',
        message: `the code was interrupted after ${opts.timeoutMs ?? 60_000} ms`,
        hint: 'Pass a larger timeoutMs; the context keeps what it had before this run where it can.',
        result: r,
      });
    }
    return new Execution(r, stream ? logs : undefined);
  }

  /** A new interpreter context (its own variables), for `runCode(…, { context })`. */
  createCodeContext(opts: ContextCreateRequest = {}): Promise<CodeContext> {
    return this.#api.createContext(this.sandboxId, opts);
  }

  listCodeContexts(): Promise<CodeContext[]> {
    return this.#api.listContexts(this.sandboxId);
  }

  restartCodeContext(context: CodeContext | string): Promise<CodeContext> {
    return this.#api.restartContext(this.sandboxId, typeof context === 'string' ? context : context.id);
  }

  removeCodeContext(context: CodeContext | string): Promise<void> {
    return this.#api.deleteContext(this.sandboxId, typeof context === 'string' ? context : context.id);
  }

  /** The session: state, backend, capabilities, expiry. */
  getInfo(): Promise<Session> {
    return this.#api.getSession(this.sandboxId);
  }

  /** The session now ends `timeoutMs` from now. */
  async setTimeout(timeoutMs: number): Promise<void> {
    await this.#api.extendSession(this.sandboxId, timeoutMs);
  }

  /** Saves the session and frees its sandbox until `Sandbox.resume` (or any call to it). */
  pause(): Promise<Session> {
    return this.#api.pauseSession(this.sandboxId);
  }

  /** Whether the session is running (not paused, dead or ended). */
  async isRunning(): Promise<boolean> {
    return (await this.getInfo()).state === 'running';
  }

  /** Ends the session: its sandbox and snapshots are freed. Safe to call twice. */
  async kill(): Promise<void> {
    try {
      await this.#api.deleteSession(this.sandboxId);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
