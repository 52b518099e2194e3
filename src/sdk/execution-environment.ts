/**
 * The execution-environment interface of the orchestration systems hearth grew from: code and
 * commands run in named sessions, snapshots, capabilities, health and cleanup — over any SessionsApi.
 * A caller names its sessions; each name maps to one hearth session found by its metadata, so the
 * mapping lives in hearth and another process with the same environment name finds the same session.
 */
import type {
  Strictness as ApiStrictness,
  ValidationResult as ApiValidationResult,
} from '../api/learning.js';
import type { CommandResult, Session, Snapshot } from '../api/sessions.js';
import type { SessionsApi } from '../api/sessions-api.js';
import { HearthApiError, isNotFound } from './errors.js';
import type { ConnectionOptions } from './http.js';
import { LearningClient } from './learning-client.js';
import { SessionsClient } from './sessions-client.js';

export interface ExecutionEnvironmentOptions extends ConnectionOptions {
  /** @default an HTTP client built from the connection options */
  api?: SessionsApi;
  /** Where `validate` asks. @default an HTTP client built from the connection options */
  learning?: Pick<LearningClient, 'validate'>;
  /** Labels this environment's sessions, so cleanup() finds exactly them. @default 'default' */
  name?: string;
  /** @default the server's choice */
  backend?: string;
  /** @default the image of `language` python */
  image?: string;
  /** Lifetime of a new session. @default 1800000 (30 minutes) */
  sessionTtlMs?: number;
}

/** Per call. */
export interface ExecutionContext {
  /** The caller's name for the session; created on first use. @default 'default' */
  sessionId?: string;
  /** @default 30000 */
  timeoutMs?: number;
  workingDir?: string;
  env?: Record<string, string>;
  /** stdout and stderr are each cut to this many bytes (and `truncated` set). @default 65536 */
  maxOutputBytes?: number;
}

export interface ExecutionResult {
  stdout: string;
  stderr: string;
  /** -1 when it timed out; 1 for code that raised. */
  exitCode: number;
  executionTimeMs: number;
  truncated: boolean;
  timedOut: boolean;
}

export type Strictness = ApiStrictness;

/** The server's validation, plus the seed's field names. */
export interface ValidationResult extends ApiValidationResult {
  /** False when the server has no validation (an older hearth): then nothing was checked. */
  configured: boolean;
  /** The same as `isValid`. */
  valid: boolean;
}

export type EnvironmentCapability =
  | 'vm-isolation'
  | 'container-isolation'
  | 'snapshots'
  | 'memory-snapshots'
  | 'pause'
  | 'resource-limits'
  | 'python'
  | 'bash'
  | 'file-operations';

export interface HealthStatus {
  healthy: boolean;
  message: string;
  activeSessions?: number;
}

const LABEL = 'hearth.environment';
const NAME_LABEL = 'hearth.environment-session';
const VM_BACKENDS = new Set(['qemu', 'firecracker']);

function cut(text: string, maxBytes: number): { text: string; cut: boolean } {
  const b = Buffer.from(text);
  if (b.length <= maxBytes) return { text, cut: false };
  // Drop a UTF-8 character split at the cut rather than emit half of it.
  return {
    text: b
      .subarray(0, maxBytes)
      .toString('utf8')
      .replace(/\uFFFD$/, ''),
    cut: true,
  };
}

/** The seed's ExecutionEnvironment over hearth sessions. */
export class ExecutionEnvironment {
  readonly #api: SessionsApi;
  readonly #o: ExecutionEnvironmentOptions;
  readonly #name: string;
  #learning: Pick<LearningClient, 'validate'> | undefined;
  /** Caller names → hearth sessions, a cache of what the metadata lookup finds. */
  readonly #sessions = new Map<string, Promise<Session>>();

  constructor(opts: ExecutionEnvironmentOptions = {}) {
    this.#api = opts.api ?? new SessionsClient(opts);
    this.#o = opts;
    this.#name = opts.name ?? 'default';
  }

  /** Runs Python in the session's persistent interpreter: variables survive between calls. */
  async executeCode(code: string, ctx: ExecutionContext = {}): Promise<ExecutionResult> {
    const r = await this.#use(ctx.sessionId, (id) =>
      this.#api.runCode(id, { code, language: 'python', timeoutMs: ctx.timeoutMs ?? 30_000 }),
    );
    const stderr = r.error
      ? `${r.stderr}${r.error.traceback || `${r.error.name}: ${r.error.value}`}`
      : r.stderr;
    const exitCode = r.timedOut ? -1 : r.error || r.contextLost ? 1 : 0;
    return this.#result(r.stdout, stderr, exitCode, r.wallTimeMs, r.outputTruncated, r.timedOut, ctx);
  }

  /** Runs a shell command (/bin/sh -c) in the session. */
  async executeCommand(command: string, ctx: ExecutionContext = {}): Promise<ExecutionResult> {
    const r: CommandResult = await this.#use(ctx.sessionId, (id) =>
      this.#api.runCommand(id, {
        cmd: command,
        timeoutMs: ctx.timeoutMs ?? 30_000,
        ...(ctx.workingDir ? { cwd: ctx.workingDir } : {}),
        ...(ctx.env ? { env: ctx.env } : {}),
      }),
    );
    const exitCode = r.timedOut ? -1 : (r.exitCode ?? 128);
    return this.#result(r.stdout, r.stderr, exitCode, r.wallTimeMs, r.truncated, r.timedOut, ctx);
  }

  /**
   * Checks input against the server's thesaurus (its default vocabulary and the commands it has
   * seen succeed): matched and unknown terms, the nearest known terms, and whether it would run.
   */
  async validate(input: string, opts: { strictness?: Strictness } = {}): Promise<ValidationResult> {
    const strictness = opts.strictness ?? 'normal';
    this.#learning ??= this.#o.learning ?? new LearningClient(this.#o);
    try {
      const r = await this.#learning.validate(input, strictness);
      return { ...r, configured: true, valid: r.isValid };
    } catch (err) {
      if (!(err instanceof HearthApiError && err.code === 'ROUTE_NOT_FOUND')) throw err;
      return {
        configured: false,
        valid: true,
        isValid: true,
        matchedTerms: [],
        unknownTerms: [],
        suggestions: [],
        strictness,
        message: 'the server has no validation (an older hearth), so nothing was checked',
      };
    }
  }

  /** @returns the snapshot's id */
  async createSnapshot(sessionId?: string, name?: string): Promise<string> {
    const s = await this.#session(sessionId);
    return (await this.#api.createSnapshot(s.id, name ? { name } : {})).id;
  }

  async restoreSnapshot(sessionId: string | undefined, snapshotId: string): Promise<void> {
    const s = await this.#session(sessionId);
    await this.#api.restoreSnapshot(s.id, snapshotId);
  }

  async listSnapshots(sessionId?: string): Promise<Snapshot[]> {
    const s = await this.#find(sessionId ?? 'default');
    return s ? this.#api.listSnapshots(s.id) : [];
  }

  deleteSnapshot(snapshotId: string): Promise<void> {
    return this.#api.deleteSnapshot(snapshotId);
  }

  /** @returns how many were deleted */
  async deleteSessionSnapshots(sessionId?: string): Promise<number> {
    const snaps = await this.listSnapshots(sessionId);
    for (const snap of snaps) await this.#api.deleteSnapshot(snap.id);
    return snaps.length;
  }

  /** What this environment offers; with a session, what that session's backend can do. */
  async capabilities(sessionId?: string): Promise<EnvironmentCapability[]> {
    const s = await this.#find(sessionId ?? 'default');
    const backend = s?.backend ?? this.#o.backend;
    const caps: EnvironmentCapability[] = [
      'snapshots',
      'resource-limits',
      'python',
      'bash',
      'file-operations',
    ];
    if (backend) caps.unshift(VM_BACKENDS.has(backend) ? 'vm-isolation' : 'container-isolation');
    if (s?.capabilities.includes('memory-snapshots')) caps.push('memory-snapshots');
    if (s?.capabilities.includes('pause')) caps.push('pause');
    return caps;
  }

  async hasCapability(capability: EnvironmentCapability, sessionId?: string): Promise<boolean> {
    return (await this.capabilities(sessionId)).includes(capability);
  }

  /** The backend sessions run on (`qemu`, `gvisor`, `bwrap`, …), or `auto` before the first. */
  async backendType(sessionId?: string): Promise<string> {
    return (await this.#find(sessionId ?? 'default'))?.backend ?? this.#o.backend ?? 'auto';
  }

  /** A round trip to the sessions service. */
  async healthCheck(): Promise<HealthStatus> {
    try {
      const running = await this.#api.listSessions({ states: ['running'] });
      return { healthy: true, message: 'ok', activeSessions: running.length };
    } catch (err) {
      return { healthy: false, message: (err as Error)?.message ?? String(err) };
    }
  }

  /** Ends every session of this environment. @returns how many */
  async cleanup(): Promise<number> {
    const mine = await this.#api.listSessions({ metadata: { [LABEL]: this.#name } });
    const live = mine.filter((s) => s.state !== 'ended');
    for (const s of live) await this.#end(s.id);
    this.#sessions.clear();
    return live.length;
  }

  /** Ends one session (its sandbox and snapshots are freed); a session never started is fine. */
  async endSession(sessionId = 'default'): Promise<void> {
    const s = await this.#find(sessionId);
    this.#sessions.delete(sessionId);
    if (s) await this.#end(s.id);
  }

  async #end(id: string): Promise<void> {
    try {
      await this.#api.deleteSession(id);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  #result(
    stdout: string,
    stderr: string,
    exitCode: number,
    executionTimeMs: number,
    truncated: boolean,
    timedOut: boolean,
    ctx: ExecutionContext,
  ): ExecutionResult {
    const max = ctx.maxOutputBytes ?? 65_536;
    const out = cut(stdout, max);
    const err = cut(stderr, max);
    return {
      stdout: out.text,
      stderr: err.text,
      exitCode,
      executionTimeMs,
      truncated: truncated || out.cut || err.cut,
      timedOut,
    };
  }

  /** Runs `fn` on the session of a name; a session gone (404, 410) is forgotten so the next call starts one. */
  async #use<T>(name: string | undefined, fn: (id: string) => Promise<T>): Promise<T> {
    const s = await this.#session(name);
    try {
      return await fn(s.id);
    } catch (err) {
      const status = (err as { status?: unknown } | null)?.status;
      if (status === 404 || status === 410) this.#sessions.delete(name ?? 'default');
      throw err;
    }
  }

  /** The live session of a caller's name, if there is one. */
  async #find(name: string): Promise<Session | undefined> {
    const metadata = { [LABEL]: this.#name, [NAME_LABEL]: name };
    const found = await this.#api.listSessions({ metadata, states: ['starting', 'running', 'paused'] });
    return found[0];
  }

  /** The session of a caller's name, started on first use. */
  #session(name = 'default'): Promise<Session> {
    let p = this.#sessions.get(name);
    if (!p) {
      p = this.#find(name).then(
        (s) =>
          s ??
          this.#api.createSession({
            ...(this.#o.image ? { image: this.#o.image } : { language: 'python' }),
            ...(this.#o.backend ? { backend: this.#o.backend } : {}),
            ...(this.#o.sessionTtlMs ? { ttlMs: this.#o.sessionTtlMs } : {}),
            metadata: { [LABEL]: this.#name, [NAME_LABEL]: name },
          }),
      );
      // A failed start is not cached: the next call tries again.
      p.catch(() => this.#sessions.delete(name));
      this.#sessions.set(name, p);
    }
    return p;
  }
}
