/**
 * The sessions API as one interface: the in-process SessionService implements it, and so does the
 * SDK's HTTP client, so the CLI and the MCP server run the same code embedded or against a server.
 */
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
  SessionState,
  Snapshot,
  SnapshotCreateRequest,
} from './sessions.js';

/** Output as it happens, for the streaming forms. */
export interface OutputHandlers {
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
  signal?: AbortSignal;
}

export interface SessionFilter {
  /** Every given key must match exactly. */
  metadata?: Record<string, string>;
  states?: SessionState[];
}

export interface SessionsApi {
  createSession(req: SessionCreateRequest): Promise<Session>;
  getSession(id: string): Promise<Session>;
  listSessions(filter?: SessionFilter): Promise<Session[]>;
  extendSession(id: string, ttlMs: number): Promise<Session>;
  /** Frees the sandbox and every snapshot of the session. */
  deleteSession(id: string): Promise<void>;

  /** A background command answers at once with `state: 'running'`. */
  runCommand(id: string, req: CommandRequest, handlers?: OutputHandlers): Promise<CommandResult>;
  listCommands(id: string): Promise<CommandResult[]>;
  getCommand(id: string, commandId: string): Promise<CommandResult>;
  killCommand(id: string, commandId: string, signal?: string): Promise<CommandResult>;

  runCode(id: string, req: CodeRequest, handlers?: OutputHandlers): Promise<CodeResult>;
  createContext(id: string, req: ContextCreateRequest): Promise<CodeContext>;
  listContexts(id: string): Promise<CodeContext[]>;
  restartContext(id: string, contextId: string): Promise<CodeContext>;
  deleteContext(id: string, contextId: string): Promise<void>;

  readFile(id: string, path: string): Promise<Buffer>;
  writeFile(id: string, path: string, content: Buffer | string): Promise<FileEntry>;
  listFiles(id: string, path: string, opts?: { depth?: number }): Promise<FileEntry[]>;
  statFile(id: string, path: string): Promise<FileEntry>;
  makeDir(id: string, path: string): Promise<FileEntry>;
  renameFile(id: string, from: string, to: string): Promise<FileEntry>;
  removeFile(id: string, path: string, opts?: { recursive?: boolean }): Promise<void>;

  createSnapshot(id: string, req?: SnapshotCreateRequest): Promise<Snapshot>;
  listSnapshots(id: string): Promise<Snapshot[]>;
  getSnapshot(snapshotId: string): Promise<Snapshot>;
  restoreSnapshot(id: string, snapshotId: string): Promise<Session>;
  deleteSnapshot(snapshotId: string): Promise<void>;
  forkSnapshot(snapshotId: string, req?: ForkRequest): Promise<Session>;

  pauseSession(id: string): Promise<Session>;
  resumeSession(id: string): Promise<Session>;
}
