import type { SessionSpec } from './session-store.js';

export type SnapshotRowKind = 'memory' | 'filesystem';

/** A backend's snapshot description (backends/backend.ts SnapshotInfo), as the store sees it. */
export interface SnapshotBackendInfo {
  dir: string;
  kind: SnapshotRowKind;
  sizeBytes: number;
  createdAt: string;
  meta?: Record<string, unknown>;
}

export interface SnapshotRow {
  id: string;
  sessionId: string;
  name: string;
  kind: SnapshotRowKind;
  backend: string;
  image: string;
  /** The session's spec when it was taken: what a restore or a fork starts from. */
  spec: SessionSpec;
  /** What the backend's `restore` takes back (its SnapshotInfo), kept as JSON. */
  info: SnapshotBackendInfo;
  /** The directory holding the snapshot's files; removed by the caller before the row. */
  dir: string;
  sizeBytes: number;
  createdAtMs: number;
}

/**
 * Snapshots as rows: their files are accounted (`totalSnapshotBytes`, for the total cap) and go
 * with their session (see `SessionStore.deleteSession`). Async, and built from queries PostgreSQL
 * runs as well.
 */
export interface SnapshotStore {
  /** Throws NOT_FOUND when the session has no row. */
  insertSnapshot(row: SnapshotRow): Promise<void>;
  getSnapshot(id: string): Promise<SnapshotRow | undefined>;
  /** The session's snapshots, oldest first. */
  listSnapshots(sessionId: string): Promise<SnapshotRow[]>;
  /** False when there was no row. */
  deleteSnapshot(id: string): Promise<boolean>;
  /** The size of every snapshot's files together. */
  totalSnapshotBytes(): Promise<number>;
}
