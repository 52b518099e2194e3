/** Where a session is in its life; `ended` is final. */
export type SessionRowState = 'starting' | 'running' | 'paused' | 'dead' | 'ended';

/** What a session's sandbox is made with; kept so a paused session resumes on the same shape. */
export interface SessionSpec {
  memoryMb?: number;
  vcpus?: number;
  diskMb?: number;
  env?: Record<string, string>;
}

/** Why a session died (a HearthError's code and message). */
export interface SessionErrorInfo {
  code: string;
  message: string;
}

export interface SessionRow {
  id: string;
  state: SessionRowState;
  backend: string;
  image: string;
  spec: SessionSpec;
  metadata: Record<string, string>;
  /** The manager's sandbox while one runs the session; null while paused or over. */
  sandboxId: string | null;
  /** The snapshot a paused session resumes from. */
  pausedSnapshotId: string | null;
  error: SessionErrorInfo | null;
  createdAtMs: number;
  expiresAtMs: number;
  updatedAtMs: number;
}

export type SessionPatch = Partial<
  Pick<
    SessionRow,
    | 'state'
    | 'backend'
    | 'metadata'
    | 'sandboxId'
    | 'pausedSnapshotId'
    | 'error'
    | 'expiresAtMs'
    | 'updatedAtMs'
  >
>;

export interface SessionListQuery {
  /** Sessions whose metadata holds every one of these keys with exactly this value. */
  metadata?: Record<string, string>;
  /** Sessions in one of these states; all states when absent. */
  states?: readonly SessionRowState[];
}

/**
 * Sessions as rows, so a paused session and its snapshots outlive the server. Async, and built
 * from queries PostgreSQL runs as well. A store that cannot take writes throws STORE_FULL or
 * STORE_UNAVAILABLE.
 */
export interface SessionStore {
  insertSession(row: SessionRow): Promise<void>;
  /**
   * Writes the patch (`updatedAtMs` defaults to now). With `ifState`, only a row in one of those
   * states changes, so two callers racing on one transition (pause against end) cannot both win.
   * False when no row changed.
   */
  updateSession(
    id: string,
    patch: SessionPatch,
    opts?: { ifState?: readonly SessionRowState[] },
  ): Promise<boolean>;
  getSession(id: string): Promise<SessionRow | undefined>;
  /** Oldest first. */
  listSessions(query?: SessionListQuery): Promise<SessionRow[]>;
  /**
   * Deletes the session and its snapshots' rows. Remove the snapshots' files first (see
   * `SnapshotStore.listSnapshots`): a crash in between then leaves rows naming missing files,
   * which a later delete clears, never files that nothing accounts for. False when there was no row.
   */
  deleteSession(id: string): Promise<boolean>;
  /** Sessions not yet `ended` whose expiry is at or before `nowMs`, soonest first. */
  expiredSessions(nowMs: number): Promise<SessionRow[]>;
}
