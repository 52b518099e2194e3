import type { SnapshotInfo } from '../backends/backend.js';

export type SessionRowState = 'starting' | 'running' | 'paused' | 'dead' | 'ended';

/** A session as the store keeps it; it outlives the server (a paused session resumes after a restart). */
export interface SessionRow {
  id: string;
  state: SessionRowState;
  backend: string;
  image: string;
  spec: { memoryMb: number; vcpus: number; diskMb: number; env: Record<string, string> };
  metadata: Record<string, string>;
  sandboxId: string | null;
  pausedSnapshotId: string | null;
  error: { code: string; message: string } | null;
  createdAtMs: number;
  expiresAtMs: number;
  updatedAtMs: number;
}

export interface SnapshotRow {
  id: string;
  sessionId: string;
  name: string;
  kind: 'memory' | 'filesystem';
  backend: string;
  image: string;
  /** The backend's SnapshotInfo, which `restore` takes back. */
  spec: SnapshotInfo;
  dir: string;
  sizeBytes: number;
  createdAtMs: number;
}

/** What the session service needs of the store (an async port: PostgreSQL must satisfy it too). */
export interface SessionStore {
  insertSession(row: SessionRow): Promise<void>;
  updateSession(id: string, patch: Partial<Omit<SessionRow, 'id' | 'createdAtMs'>>): Promise<void>;
  getSession(id: string): Promise<SessionRow | undefined>;
  listSessions(filter?: {
    metadata?: Record<string, string>;
    states?: SessionRowState[];
  }): Promise<SessionRow[]>;
  deleteSession(id: string): Promise<void>;
  /** Sessions not yet ended whose expiry has passed. */
  expiredSessions(nowMs: number): Promise<SessionRow[]>;
}

export interface SnapshotStore {
  insertSnapshot(row: SnapshotRow): Promise<void>;
  getSnapshot(id: string): Promise<SnapshotRow | undefined>;
  listSnapshots(sessionId: string): Promise<SnapshotRow[]>;
  deleteSnapshot(id: string): Promise<void>;
  totalSnapshotBytes(): Promise<number>;
}
