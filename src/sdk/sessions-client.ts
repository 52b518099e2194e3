import type {
  CodeContext,
  CodeContextList,
  CodeRequest,
  CodeResult,
  CommandList,
  CommandRequest,
  CommandResult,
  ContextCreateRequest,
  FileEntry,
  FileList,
  ForkRequest,
  Session,
  SessionCreateRequest,
  SessionList,
  Snapshot,
  SnapshotCreateRequest,
  SnapshotList,
} from '../api/sessions.js';
import type { OutputHandlers, SessionFilter, SessionsApi } from '../api/sessions-api.js';
import { type ConnectionOptions, enc, HttpCore } from './http.js';

/** A command or code run's own deadline, for the request that waits on it. @default 60000 */
const runMs = (timeoutMs: number | undefined): number => timeoutMs ?? 60_000;
const streams = (h?: OutputHandlers): h is OutputHandlers => Boolean(h?.onStdout || h?.onStderr);

/** The sessions API over HTTP: the same interface as the server's own SessionService. */
export class SessionsClient implements SessionsApi {
  readonly http: HttpCore;

  constructor(opts: ConnectionOptions = {}) {
    this.http = new HttpCore(opts);
  }

  createSession(req: SessionCreateRequest): Promise<Session> {
    return this.http.json('POST', '/v1/sessions', { body: req });
  }

  getSession(id: string): Promise<Session> {
    return this.http.json('GET', `/v1/sessions/${enc(id)}`);
  }

  async listSessions(filter: SessionFilter = {}): Promise<Session[]> {
    const query: Record<string, string> = {};
    if (filter.states?.length) query.state = filter.states.join(',');
    for (const [k, v] of Object.entries(filter.metadata ?? {})) query[`metadata.${k}`] = v;
    return (await this.http.json<SessionList>('GET', '/v1/sessions', { query })).sessions;
  }

  extendSession(id: string, ttlMs: number): Promise<Session> {
    return this.http.json('POST', `/v1/sessions/${enc(id)}/extend`, { body: { ttlMs } });
  }

  deleteSession(id: string): Promise<void> {
    return this.http.json('DELETE', `/v1/sessions/${enc(id)}`);
  }

  runCommand(id: string, req: CommandRequest, h?: OutputHandlers): Promise<CommandResult> {
    const path = `/v1/sessions/${enc(id)}/commands`;
    const o = { body: req, extraMs: req.background ? 0 : runMs(req.timeoutMs), ...signalOf(h) };
    return streams(h) && !req.background
      ? this.http.events('POST', path, o, h)
      : this.http.json('POST', path, o);
  }

  async listCommands(id: string): Promise<CommandResult[]> {
    return (await this.http.json<CommandList>('GET', `/v1/sessions/${enc(id)}/commands`)).commands;
  }

  getCommand(id: string, commandId: string): Promise<CommandResult> {
    return this.http.json('GET', `/v1/sessions/${enc(id)}/commands/${enc(commandId)}`);
  }

  killCommand(id: string, commandId: string, signal?: string): Promise<CommandResult> {
    const body = signal ? { signal } : {};
    return this.http.json('POST', `/v1/sessions/${enc(id)}/commands/${enc(commandId)}/kill`, { body });
  }

  runCode(id: string, req: CodeRequest, h?: OutputHandlers): Promise<CodeResult> {
    const path = `/v1/sessions/${enc(id)}/code`;
    const o = { body: req, extraMs: runMs(req.timeoutMs), ...signalOf(h) };
    return streams(h) ? this.http.events('POST', path, o, h) : this.http.json('POST', path, o);
  }

  createContext(id: string, req: ContextCreateRequest): Promise<CodeContext> {
    return this.http.json('POST', `/v1/sessions/${enc(id)}/contexts`, { body: req });
  }

  async listContexts(id: string): Promise<CodeContext[]> {
    return (await this.http.json<CodeContextList>('GET', `/v1/sessions/${enc(id)}/contexts`)).contexts;
  }

  restartContext(id: string, contextId: string): Promise<CodeContext> {
    return this.http.json('POST', `/v1/sessions/${enc(id)}/contexts/${enc(contextId)}/restart`);
  }

  deleteContext(id: string, contextId: string): Promise<void> {
    return this.http.json('DELETE', `/v1/sessions/${enc(id)}/contexts/${enc(contextId)}`);
  }

  readFile(id: string, path: string): Promise<Buffer> {
    return this.http.bytes('GET', `/v1/sessions/${enc(id)}/files`, { query: { path } });
  }

  writeFile(id: string, path: string, content: Buffer | string): Promise<FileEntry> {
    return this.http.json('PUT', `/v1/sessions/${enc(id)}/files`, { query: { path }, bytes: content });
  }

  async listFiles(id: string, path: string, opts: { depth?: number } = {}): Promise<FileEntry[]> {
    const query = { path, depth: opts.depth };
    return (await this.http.json<FileList>('GET', `/v1/sessions/${enc(id)}/files/list`, { query })).entries;
  }

  statFile(id: string, path: string): Promise<FileEntry> {
    return this.http.json('GET', `/v1/sessions/${enc(id)}/files/stat`, { query: { path } });
  }

  makeDir(id: string, path: string): Promise<FileEntry> {
    return this.http.json('POST', `/v1/sessions/${enc(id)}/files/mkdir`, { query: { path } });
  }

  renameFile(id: string, from: string, to: string): Promise<FileEntry> {
    return this.http.json('POST', `/v1/sessions/${enc(id)}/files/rename`, { body: { from, to } });
  }

  removeFile(id: string, path: string, opts: { recursive?: boolean } = {}): Promise<void> {
    const query = { path, ...(opts.recursive ? { recursive: true } : {}) };
    return this.http.json('DELETE', `/v1/sessions/${enc(id)}/files`, { query });
  }

  createSnapshot(id: string, req: SnapshotCreateRequest = {}): Promise<Snapshot> {
    return this.http.json('POST', `/v1/sessions/${enc(id)}/snapshots`, { body: req });
  }

  async listSnapshots(id: string): Promise<Snapshot[]> {
    return (await this.http.json<SnapshotList>('GET', `/v1/sessions/${enc(id)}/snapshots`)).snapshots;
  }

  getSnapshot(snapshotId: string): Promise<Snapshot> {
    return this.http.json('GET', `/v1/snapshots/${enc(snapshotId)}`);
  }

  restoreSnapshot(id: string, snapshotId: string): Promise<Session> {
    return this.http.json('POST', `/v1/sessions/${enc(id)}/restore`, { body: { snapshotId } });
  }

  deleteSnapshot(snapshotId: string): Promise<void> {
    return this.http.json('DELETE', `/v1/snapshots/${enc(snapshotId)}`);
  }

  forkSnapshot(snapshotId: string, req: ForkRequest = {}): Promise<Session> {
    return this.http.json('POST', `/v1/snapshots/${enc(snapshotId)}/fork`, { body: req });
  }

  pauseSession(id: string): Promise<Session> {
    return this.http.json('POST', `/v1/sessions/${enc(id)}/pause`);
  }

  resumeSession(id: string): Promise<Session> {
    return this.http.json('POST', `/v1/sessions/${enc(id)}/resume`);
  }
}

const signalOf = (h?: OutputHandlers) => (h?.signal ? { signal: h.signal } : {});
