import { randomUUID } from 'node:crypto';
import type { ExecHandle } from '../agent/client.js';
import type { GuestCallHandler } from '../agent/guest-calls.js';
import type {
  CodeContext,
  CodeRequest,
  CodeResult,
  CommandRequest,
  CommandResult,
  ContextCreateRequest,
  FileEntry,
  ForkRequest,
  Session,
  SessionCreateRequest,
  Snapshot,
  SnapshotCreateRequest,
} from '../api/sessions.js';
import type { OutputHandlers, SessionFilter, SessionsApi } from '../api/sessions-api.js';
import type { SnapshotInfo } from '../backends/backend.js';
import { type HearthPaths, hearthPaths } from '../config/paths.js';
import { HearthError, toHearthError } from '../errors/hearth-error.js';
import { type Catalog, resolveImageDef, resolveLanguage } from '../images/catalog.js';
import { findImage } from '../images/store.js';
import type { InputGate } from '../learning/input-gate.js';
import { argvToLine } from '../learning/normalize.js';
import type { ManagedSandbox } from '../sandboxes/managed-sandbox.js';
import type { SandboxManager } from '../sandboxes/manager.js';
import type { SessionPatch, SessionRow, SessionStore } from '../store/session-store.js';
import type { SnapshotStore } from '../store/snapshot-store.js';
import type { ContextLanguage } from './code.js';
import type { CommandListener, StartedCommand } from './commands.js';
import { type SessionsConfig, sessionsConfig } from './config.js';
import { listTree, rename, toEntry } from './files.js';
import { LiveSession, sessionCapabilities, toSession } from './live-session.js';
import { SessionSnapshots, toSnapshot } from './snapshots.js';

/** An upload reaches the sandbox in pieces of this size. */
const WRITE_PIECE_BYTES = 4 * 1024 * 1024;

export interface SessionServiceOptions {
  manager: SandboxManager;
  store: { sessions: SessionStore; snapshots: SnapshotStore };
  catalog: Catalog;
  /** @default sessionsConfig(process.env) */
  config?: SessionsConfig;
  paths?: HearthPaths;
  /** Checks commands before they run (learning/input-gate.ts). @default none */
  inputGate?: InputGate;
  onWarning?: (obj: object, msg: string) => void;
}

/**
 * Sessions: long-lived sandboxes from the manager, each with commands, persistent interpreter
 * contexts, files and snapshots. The session rows live in the store, so a paused session (whose
 * sandbox is a snapshot on disk) survives a restart; a running one dies with its server and says so.
 */
export class SessionService implements SessionsApi {
  readonly config: SessionsConfig;
  readonly #o: SessionServiceOptions;
  readonly #live = new Map<string, LiveSession>();
  /** Creates and resumes under way, counted against the limit before their sandbox exists. */
  #starting = 0;
  readonly #snapshots: SessionSnapshots;
  readonly #resuming = new Map<string, Promise<LiveSession>>();
  /** Who answers each session's guest calls (llm_query …), kept across restores and resumes. */
  readonly #guestCalls = new Map<string, GuestCallHandler>();
  #sweep: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  constructor(o: SessionServiceOptions) {
    this.#o = o;
    this.config = o.config ?? sessionsConfig();
    const paths = o.paths ?? hearthPaths();
    this.#snapshots = new SessionSnapshots({
      store: o.store.snapshots,
      config: this.config,
      dir: paths.snapshots,
    });
  }

  /**
   * Marks sessions that were running when the server stopped as dead (their sandboxes went with
   * it), and starts ending expired ones, paused ones included.
   */
  async start(): Promise<void> {
    for (const row of await this.#o.store.sessions.listSessions({ states: ['starting', 'running'] })) {
      if (this.#live.has(row.id)) continue;
      await this.#markDead(
        row.id,
        new HearthError('SANDBOX_LOST', 'the server stopped while the session ran'),
      );
    }
    this.#sweep ??= setInterval(() => void this.#endExpired(), 5000);
    this.#sweep.unref();
  }

  async createSession(req: SessionCreateRequest): Promise<Session> {
    const image = this.#image(req);
    const ttlMs = this.#ttl(req.ttlMs);
    this.#limit('memoryMb', req.memoryMb, this.config.maxMemoryMb);
    this.#limit('vcpus', req.vcpus, this.config.maxVcpus);
    this.#limit('diskMb', req.diskMb, this.config.maxDiskMb);
    const { backend } = await this.#o.manager.backends.get(req.backend);
    const now = Date.now();
    const row: SessionRow = {
      id: `ses-${randomUUID()}`,
      state: 'starting',
      backend: backend.name,
      image,
      spec: {
        memoryMb: req.memoryMb ?? this.config.defaultMemoryMb,
        vcpus: req.vcpus ?? 1,
        diskMb: req.diskMb ?? 256,
        env: req.env ?? {},
      },
      metadata: req.metadata ?? {},
      sandboxId: null,
      pausedSnapshotId: null,
      error: null,
      createdAtMs: now,
      expiresAtMs: now + ttlMs,
      updatedAtMs: now,
    };
    // A session that names no resources or environment takes a ready sandbox from the pool.
    const pooled =
      req.memoryMb === undefined && req.vcpus === undefined && req.diskMb === undefined && !req.env;
    const live = await this.#open(row, { pooled });
    return toSession(live.row, live.capabilities);
  }

  async getSession(id: string): Promise<Session> {
    const live = this.#live.get(id);
    if (live) return toSession(live.row, live.capabilities);
    const row = await this.#row(id);
    return toSession(row, await this.#capabilities(row.backend));
  }

  async listSessions(filter: SessionFilter = {}): Promise<Session[]> {
    // Ended sessions answer 404 one by one, so a list leaves them out unless asked for by state.
    const rows = await this.#o.store.sessions.listSessions({
      ...(filter.metadata ? { metadata: filter.metadata } : {}),
      states: filter.states ?? ['starting', 'running', 'paused', 'dead'],
    });
    // One capability lookup per backend, not a store read and a lookup per session.
    const caps = new Map<string, Promise<string[]>>();
    const capsOf = (backend: string) => {
      const known = caps.get(backend);
      if (known) return known;
      const looked = this.#capabilities(backend);
      caps.set(backend, looked);
      return looked;
    };
    return Promise.all(
      rows.map(async (r) => {
        const live = this.#live.get(r.id);
        return live ? toSession(live.row, live.capabilities) : toSession(r, await capsOf(r.backend));
      }),
    );
  }

  async extendSession(id: string, ttlMs: number): Promise<Session> {
    const row = await this.#row(id);
    const expiresAtMs = Date.now() + this.#ttl(ttlMs);
    await this.#update(row.id, { expiresAtMs });
    const live = this.#live.get(id);
    if (live) await this.#o.manager.extend(live.sandbox, expiresAtMs);
    return this.getSession(id);
  }

  /**
   * Sets who answers `llm_query`, `llm_query_batched` and `rlm_query` from code in the session's
   * interpreter contexts (an RLM run sets it for its length); undefined: those raise an error
   * saying no model is attached. It follows the session onto a restored or resumed sandbox.
   */
  setGuestCallHandler(sessionId: string, handler: GuestCallHandler | undefined): void {
    if (handler) this.#guestCalls.set(sessionId, handler);
    else this.#guestCalls.delete(sessionId);
    this.#live.get(sessionId)?.sandbox.setGuestCallHandler(handler);
  }

  async deleteSession(id: string): Promise<void> {
    await this.#row(id);
    await this.#end(id);
    await this.#o.store.sessions.deleteSession(id);
  }

  async runCommand(id: string, req: CommandRequest, handlers?: OutputHandlers): Promise<CommandResult> {
    if ((req.cmd === undefined) === (req.argv === undefined))
      throw new HearthError('VALIDATION_FAILED', 'give exactly one of `cmd` and `argv`');
    this.#checkInput(req);
    const live = await this.#use(id);
    const timeoutMs = this.#timeout(req.timeoutMs);
    const started = live.commands.start(live.live(), { ...req, timeoutMs }, handlers);
    if (req.background) return live.commands.get(started.id);
    const onAbort = () => void started.handle.kill('SIGKILL');
    handlers?.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await started.done;
    } finally {
      handlers?.signal?.removeEventListener('abort', onAbort);
      live.commands.forget(started.id);
    }
  }

  /**
   * A command whose stdin stays open for the caller (the WebSocket route): it writes stdin, sends
   * signals and hears the output; the command is kept in the list like a background one.
   */
  async startInteractive(
    id: string,
    req: CommandRequest,
    handlers: CommandListener,
    o: {
      /** Its stdin stays open for the caller; without, it reads /dev/null. @default true */
      stdin?: boolean;
      /** It leaves the list once it ends (E2B's processes do); its `done` still tells how. @default false */
      forgetOnExit?: boolean;
    } = {},
  ): Promise<{ id: string; handle: ExecHandle; done: Promise<CommandResult> }> {
    if ((req.cmd === undefined) === (req.argv === undefined))
      throw new HearthError('VALIDATION_FAILED', 'give exactly one of `cmd` and `argv`');
    this.#checkInput(req);
    const live = await this.#use(id);
    const timeoutMs = this.#timeout(req.timeoutMs);
    const interactive = o.stdin ?? true;
    const started = live.commands.start(live.live(), { ...req, timeoutMs, interactive }, handlers);
    if (o.forgetOnExit) {
      const forget = () => live.commands.forget(started.id);
      started.done.then(forget, forget);
    }
    return started;
  }

  /** Hears a running command's output from now on (a client attaching again). */
  async attachCommand(
    id: string,
    commandId: string,
    listener: CommandListener,
  ): Promise<{ done: Promise<CommandResult>; detach: () => void }> {
    return (await this.#use(id)).commands.attach(commandId, listener);
  }

  /** The session's running commands with the requests they were started with. */
  async runningCommands(id: string): Promise<StartedCommand[]> {
    return (await this.#use(id)).commands.running();
  }

  /** The stdin of a running command started with it open. */
  async commandStdin(id: string, commandId: string): Promise<Pick<ExecHandle, 'writeStdin' | 'closeStdin'>> {
    return (await this.#use(id)).commands.stdin(commandId);
  }

  /** Before the session is looked at, let alone resumed: refused input touches no sandbox. */
  #checkInput(req: CommandRequest): void {
    this.#o.inputGate?.check(req.cmd ?? argvToLine(req.argv ?? []), req.validate);
  }

  async listCommands(id: string): Promise<CommandResult[]> {
    return (await this.#use(id)).commands.list();
  }

  async getCommand(id: string, commandId: string): Promise<CommandResult> {
    return (await this.#use(id)).commands.get(commandId);
  }

  async killCommand(id: string, commandId: string, signal?: string): Promise<CommandResult> {
    if (signal !== undefined && !/^SIG[A-Z0-9]+$/.test(signal))
      throw new HearthError('VALIDATION_FAILED', `"${signal}" is not a signal name`);
    return (await this.#use(id)).commands.kill(commandId, signal);
  }

  async runCode(id: string, req: CodeRequest, handlers?: OutputHandlers): Promise<CodeResult> {
    const live = await this.#use(id);
    return live.code.run(live.live(), { ...req, timeoutMs: this.#timeout(req.timeoutMs) }, handlers);
  }

  async createContext(id: string, req: ContextCreateRequest): Promise<CodeContext> {
    const live = await this.#use(id);
    return live.code.create(live.live(), req.language ?? 'python', req.cwd);
  }

  /** The language's default context (the one a run without `context` uses), made now if need be. */
  async defaultContext(id: string, language: ContextLanguage): Promise<CodeContext> {
    const live = await this.#use(id);
    return live.code.defaultContext(live.live(), language);
  }

  /** The ids of the default contexts the session has made so far, by language. */
  async defaultContextIds(id: string): Promise<ReadonlyMap<ContextLanguage, string>> {
    return (await this.#use(id)).code.defaultIds();
  }

  async listContexts(id: string): Promise<CodeContext[]> {
    const live = await this.#use(id);
    return live.code.list(live.live());
  }

  async restartContext(id: string, contextId: string): Promise<CodeContext> {
    const live = await this.#use(id);
    return live.code.restart(live.live(), contextId);
  }

  async deleteContext(id: string, contextId: string): Promise<void> {
    const live = await this.#use(id);
    await live.code.remove(live.live(), contextId);
  }

  async readFile(id: string, path: string): Promise<Buffer> {
    return (await this.#use(id)).live().readFile(path);
  }

  /** A file's bytes as they come from the sandbox (the route streams them on); resolves with its size. */
  async readFileStream(id: string, path: string, onChunk: (bytes: Buffer) => void): Promise<number> {
    return (await this.#use(id)).live().readFileStream(path, onChunk);
  }

  async writeFile(id: string, path: string, content: Buffer | string): Promise<FileEntry> {
    const sandbox = (await this.#use(id)).live();
    const dir = path.split('/').slice(0, -1).join('/');
    if (dir) await sandbox.mkdir(dir, { recursive: true });
    await sandbox.writeFile(path, content);
    return toEntry(await sandbox.stat(path));
  }

  /**
   * Writes a file from a stream, a piece at a time (the first piece replaces the file, the rest
   * append), so a large upload never sits whole in the server. FILE_TOO_LARGE past `maxBytes`.
   */
  async writeFileFrom(
    id: string,
    path: string,
    chunks: AsyncIterable<Buffer>,
    opts: { maxBytes: number },
  ): Promise<FileEntry> {
    const sandbox = (await this.#use(id)).live();
    const dir = path.split('/').slice(0, -1).join('/');
    if (dir) await sandbox.mkdir(dir, { recursive: true });
    await sandbox.writeFile(path, Buffer.alloc(0));
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let total = 0;
    const flush = async () => {
      if (!pendingBytes) return;
      const piece = Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
      await sandbox.writeFile(path, piece, { append: true });
    };
    for await (const chunk of chunks) {
      total += chunk.length;
      if (total > opts.maxBytes) {
        throw new HearthError('FILE_TOO_LARGE', `the file is over ${opts.maxBytes} bytes`, {
          hint: 'Send a smaller file, or raise HEARTH_MAX_FILE_BYTES on the server.',
        });
      }
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= WRITE_PIECE_BYTES) await flush();
    }
    await flush();
    return toEntry(await sandbox.stat(path));
  }

  async listFiles(id: string, path: string, opts: { depth?: number } = {}): Promise<FileEntry[]> {
    return listTree((await this.#use(id)).live(), path, opts.depth ?? 1);
  }

  async statFile(id: string, path: string): Promise<FileEntry> {
    return toEntry(await (await this.#use(id)).live().stat(path));
  }

  async makeDir(id: string, path: string): Promise<FileEntry> {
    const sandbox = (await this.#use(id)).live();
    await sandbox.mkdir(path, { recursive: true });
    return toEntry(await sandbox.stat(path));
  }

  async renameFile(id: string, from: string, to: string): Promise<FileEntry> {
    return rename((await this.#use(id)).live(), from, to);
  }

  async removeFile(id: string, path: string, opts: { recursive?: boolean } = {}): Promise<void> {
    await (await this.#use(id)).live().remove(path, opts);
  }

  async createSnapshot(id: string, req: SnapshotCreateRequest = {}): Promise<Snapshot> {
    const live = await this.#use(id);
    return live.exclusive(async () => {
      live.live();
      return toSnapshot(await this.#snapshots.create(live, req));
    });
  }

  async listSnapshots(id: string): Promise<Snapshot[]> {
    await this.#row(id);
    return (await this.#snapshots.list(id)).map(toSnapshot);
  }

  async getSnapshot(snapshotId: string): Promise<Snapshot> {
    return toSnapshot(await this.#visibleSnapshot(snapshotId));
  }

  async restoreSnapshot(id: string, snapshotId: string): Promise<Session> {
    const snap = await this.#visibleSnapshot(snapshotId);
    if (snap.sessionId !== id)
      throw new HearthError(
        'SNAPSHOT_NOT_FOUND',
        `snapshot ${snapshotId} belongs to another session; fork it instead`,
      );
    const live = await this.#use(id);
    await live.exclusive(async () => {
      const old = live.sandbox;
      const next = await this.#acquire(live.row, { from: snap.info as SnapshotInfo });
      live.sandbox = next;
      this.#watch(live);
      if (snap.kind === 'filesystem') live.code.forgetContexts();
      try {
        await this.#update(id, { sandboxId: next.id, state: 'running', error: null });
      } finally {
        // The session runs on the restored sandbox from here on, even if the store missed the
        // change: the old one is freed on every path.
        await old.release();
      }
    });
    return this.getSession(id);
  }

  async deleteSnapshot(snapshotId: string): Promise<void> {
    await this.#snapshots.remove(await this.#visibleSnapshot(snapshotId));
  }

  async forkSnapshot(snapshotId: string, req: ForkRequest = {}): Promise<Session> {
    const snap = await this.#visibleSnapshot(snapshotId);
    const parent = await this.#o.store.sessions.getSession(snap.sessionId);
    const now = Date.now();
    const row: SessionRow = {
      id: `ses-${randomUUID()}`,
      state: 'starting',
      backend: snap.backend,
      image: snap.image,
      spec: { ...snap.spec },
      metadata: req.metadata ?? parent?.metadata ?? {},
      sandboxId: null,
      pausedSnapshotId: null,
      error: null,
      createdAtMs: now,
      expiresAtMs: now + this.#ttl(req.ttlMs),
      updatedAtMs: now,
    };
    const live = await this.#open(row, { from: snap.info as SnapshotInfo });
    return toSession(live.row, live.capabilities);
  }

  async pauseSession(id: string): Promise<Session> {
    const live = await this.#use(id);
    await live.exclusive(async () => {
      live.live();
      const snap = await this.#snapshots.create(live, { kind: 'memory', name: 'pause' }, { hidden: true });
      await this.#update(id, { state: 'paused', pausedSnapshotId: snap.id, sandboxId: null });
      live.row.state = 'paused';
      this.#live.delete(id);
      await live.sandbox.release();
    });
    return this.getSession(id);
  }

  async resumeSession(id: string): Promise<Session> {
    await this.#use(id);
    return this.getSession(id);
  }

  /** Releases every session's sandbox (their rows stay: running ones are found dead at the next start). */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#sweep);
      await Promise.all([...this.#live.values()].map((l) => l.sandbox.release()));
      this.#live.clear();
    })();
    return this.#closing;
  }

  /** The live session for a call: a paused one is resumed first, a dead one is SESSION_DEAD. */
  async #use(id: string): Promise<LiveSession> {
    if (this.#closing) throw new HearthError('SHUTTING_DOWN', 'the server is shutting down');
    const live = this.#live.get(id);
    if (live) return live;
    const row = await this.#row(id);
    if (row.state === 'paused') return this.#resume(row);
    if (row.state === 'dead' || row.state === 'ended') {
      throw new HearthError(
        'SESSION_DEAD',
        `session ${id} is ${row.state}: ${row.error?.message ?? 'its sandbox is gone'}`,
      );
    }
    const again = this.#live.get(id);
    if (again) return again;
    throw new HearthError('SESSION_DEAD', `session ${id} has no sandbox on this server`);
  }

  #resume(row: SessionRow): Promise<LiveSession> {
    let p = this.#resuming.get(row.id);
    if (!p) {
      p = (async () => {
        const snapId = row.pausedSnapshotId;
        const snap = snapId ? await this.#o.store.snapshots.getSnapshot(snapId) : undefined;
        if (!snap) {
          await this.#markDead(row.id, new HearthError('SANDBOX_LOST', 'its pause snapshot is gone'));
          throw new HearthError(
            'SESSION_DEAD',
            `session ${row.id} cannot resume: its pause snapshot is gone`,
          );
        }
        const live = await this.#open({ ...row, state: 'starting' }, { from: snap.info as SnapshotInfo });
        await this.#update(row.id, { pausedSnapshotId: null });
        await this.#snapshots.remove(snap);
        return live;
      })().finally(() => this.#resuming.delete(row.id));
      this.#resuming.set(row.id, p);
    }
    return p;
  }

  /** Gets a sandbox for the row (fresh, pooled or from a snapshot) and makes the session live. */
  async #open(row: SessionRow, how: { pooled?: boolean; from?: SnapshotInfo }): Promise<LiveSession> {
    if (this.#live.size + this.#starting >= this.config.maxSessions) {
      throw new HearthError(
        'SESSION_LIMIT',
        `${this.config.maxSessions} sessions are running, the most this server allows`,
      );
    }
    this.#starting++;
    try {
      const known = await this.#o.store.sessions.getSession(row.id);
      if (known) await this.#update(row.id, { state: 'starting' });
      else await this.#o.store.sessions.insertSession(row);
      let sandbox: ManagedSandbox;
      try {
        sandbox = await this.#acquire(row, how);
      } catch (err) {
        if (known) await this.#markDead(row.id, toHearthError(err));
        else await this.#o.store.sessions.deleteSession(row.id);
        throw err;
      }
      // A pooled sandbox has the pool's shape: the session reports what it really got.
      const spec = { ...row.spec, memoryMb: sandbox.spec.memoryMb ?? row.spec.memoryMb };
      const live = new LiveSession(
        { ...row, spec, state: 'running', sandboxId: sandbox.id },
        sandbox,
        this.config,
      );
      this.#live.set(row.id, live);
      this.#watch(live);
      await this.#update(row.id, { state: 'running', sandboxId: sandbox.id, backend: sandbox.backend });
      return live;
    } finally {
      this.#starting--;
    }
  }

  #acquire(row: SessionRow, how: { pooled?: boolean; from?: SnapshotInfo }): Promise<ManagedSandbox> {
    return this.#o.manager.acquire({
      backend: row.backend,
      image: row.image,
      spec: { ...row.spec },
      labels: { session: row.id },
      slot: 'long',
      expiresAtMs: row.expiresAtMs,
      ...(how.pooled ? { pooled: true } : {}),
      ...(how.from ? { from: how.from } : {}),
    });
  }

  /** Tells the session when its current sandbox ends on its own (died, or its TTL passed). */
  #watch(live: LiveSession): void {
    const sandbox = live.sandbox;
    sandbox.setGuestCallHandler(this.#guestCalls.get(live.row.id));
    sandbox.onEnd((reason, err) => {
      if (live.sandbox !== sandbox || reason === 'released') return;
      this.#live.delete(live.row.id);
      if (reason === 'expired') void this.#expire(live.row.id);
      else {
        live.row.state = 'dead';
        live.row.error = err ? { code: err.code, message: err.message } : null;
        void this.#markDead(live.row.id, err ?? new HearthError('SANDBOX_LOST', 'its sandbox ended'));
      }
    });
  }

  async #end(id: string): Promise<void> {
    const live = this.#live.get(id);
    this.#live.delete(id);
    this.#guestCalls.delete(id);
    if (live) await live.exclusive(() => live.sandbox.release());
    await this.#snapshots.removeAll(id);
  }

  async #expire(id: string): Promise<void> {
    try {
      await this.#end(id);
      await this.#update(id, { state: 'ended', sandboxId: null, pausedSnapshotId: null });
    } catch (err) {
      this.#o.onWarning?.({ err, session: id }, 'cannot end an expired session; retrying');
    }
  }

  async #endExpired(): Promise<void> {
    try {
      for (const row of await this.#o.store.sessions.expiredSessions(Date.now())) await this.#expire(row.id);
    } catch (err) {
      this.#o.onWarning?.({ err }, 'cannot look for expired sessions; retrying');
    }
  }

  async #markDead(id: string, err: HearthError): Promise<void> {
    await this.#update(id, {
      state: 'dead',
      sandboxId: null,
      error: { code: err.code, message: err.message },
    }).catch((e: unknown) => this.#o.onWarning?.({ err: e, session: id }, 'cannot record a dead session'));
  }

  async #update(id: string, patch: SessionPatch): Promise<void> {
    const live = this.#live.get(id);
    if (live) Object.assign(live.row, patch);
    await this.#o.store.sessions.updateSession(id, { ...patch, updatedAtMs: Date.now() });
  }

  async #row(id: string): Promise<SessionRow> {
    const row = this.#live.get(id)?.row ?? (await this.#o.store.sessions.getSession(id));
    if (!row || row.state === 'ended') throw new HearthError('SESSION_NOT_FOUND', `no session with id ${id}`);
    return row;
  }

  async #visibleSnapshot(id: string) {
    const snap = await this.#snapshots.get(id);
    if (snap.name.startsWith('.')) throw new HearthError('SNAPSHOT_NOT_FOUND', `no snapshot with id ${id}`);
    return snap;
  }

  async #capabilities(backend: string): Promise<string[]> {
    try {
      return sessionCapabilities((await this.#o.manager.backends.get(backend)).backend.capabilities());
    } catch {
      return [];
    }
  }

  #image(req: SessionCreateRequest): string {
    if (req.image && req.language)
      throw new HearthError('VALIDATION_FAILED', 'give `image` or `language`, not both');
    const name = req.language
      ? resolveLanguage(this.#o.catalog, req.language).image
      : (req.image ?? 'default');
    resolveImageDef(this.#o.catalog, name);
    const paths = this.#o.paths ?? hearthPaths();
    if (!findImage(name, { paths, catalog: this.#o.catalog })) {
      throw new HearthError('IMAGE_NOT_BUILT', `the image "${name}" is not built`, {
        hint: `Build it on the server with \`hearth images build ${name}\`.`,
      });
    }
    return name;
  }

  #ttl(asked: number | undefined): number {
    const ttl = asked ?? this.config.defaultTtlMs;
    this.#limit('ttlMs', ttl, this.config.maxTtlMs);
    return ttl;
  }

  #timeout(asked: number | undefined): number {
    const t = asked ?? this.config.defaultTimeoutMs;
    this.#limit('timeoutMs', t, this.config.maxTimeoutMs);
    return t;
  }

  #limit(name: string, value: number | undefined, max: number): void {
    if (value !== undefined && value > max) {
      throw new HearthError('LIMIT_TOO_HIGH', `${name} ${value} is above the maximum ${max}`, {
        details: { limit: name, maximum: max },
      });
    }
  }
}
