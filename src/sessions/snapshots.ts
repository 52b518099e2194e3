import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Snapshot, SnapshotCreateRequest, SnapshotKind } from '../api/sessions.js';
import { HearthError } from '../errors/hearth-error.js';
import type { SnapshotRow, SnapshotStore } from '../store/snapshot-store.js';
import type { SessionsConfig } from './config.js';
import type { LiveSession } from './live-session.js';

export function toSnapshot(r: SnapshotRow): Snapshot {
  return {
    id: r.id,
    sessionId: r.sessionId,
    name: r.name,
    kind: r.kind,
    sizeBytes: r.sizeBytes,
    createdAt: new Date(r.createdAtMs).toISOString(),
  };
}

/**
 * A session's snapshots: saved by the backend into a folder of their own under the state dir,
 * recorded in the store (so they outlive the server), counted per session and in bytes overall,
 * and removed with their session.
 */
export class SessionSnapshots {
  constructor(private readonly o: { store: SnapshotStore; config: SessionsConfig; dir: string }) {}

  /** The richest kind the session's backend has, or the asked one if it has that. */
  kindFor(live: LiveSession, asked?: SnapshotKind): SnapshotKind {
    const caps = live.sandbox.capabilities;
    const has = (k: SnapshotKind) => caps.includes(k === 'memory' ? 'memory-snapshots' : 'fs-snapshots');
    const kind = asked ?? (has('memory') ? 'memory' : 'filesystem');
    if (!has(kind) || !live.sandbox.raw.snapshot) {
      const other = kind === 'memory' ? 'filesystem' : 'memory';
      throw new HearthError(
        'SNAPSHOT_KIND_UNSUPPORTED',
        `backend ${live.sandbox.backend} has no ${kind} snapshots${has(other) ? `; it has ${other} snapshots` : ''}`,
      );
    }
    return kind;
  }

  async create(
    live: LiveSession,
    req: SnapshotCreateRequest = {},
    opts: { hidden?: boolean } = {},
  ): Promise<SnapshotRow> {
    const kind = this.kindFor(live, req.kind);
    const sessionId = live.row.id;
    const mine = await this.o.store.listSnapshots(sessionId);
    if (
      !opts.hidden &&
      mine.filter((s) => !s.name.startsWith('.')).length >= this.o.config.maxSnapshotsPerSession
    ) {
      throw new HearthError(
        'SNAPSHOT_LIMIT',
        `session ${sessionId} has ${this.o.config.maxSnapshotsPerSession} snapshots, the most it may keep`,
      );
    }
    const total = await this.o.store.totalSnapshotBytes();
    if (total >= this.o.config.maxSnapshotBytes) {
      throw new HearthError(
        'SNAPSHOT_STORE_FULL',
        `snapshots take ${total} bytes, the most this server keeps is ${this.o.config.maxSnapshotBytes}`,
      );
    }
    const id = `snap-${randomUUID()}`;
    const dir = join(this.o.dir, id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      const snapshot = live.sandbox.raw.snapshot;
      if (!snapshot)
        throw new HearthError(
          'SNAPSHOT_KIND_UNSUPPORTED',
          `backend ${live.sandbox.backend} has no snapshots`,
        );
      const info = await snapshot.call(live.sandbox.raw, { dir, kind });
      if (total + info.sizeBytes > this.o.config.maxSnapshotBytes) {
        throw new HearthError(
          'SNAPSHOT_STORE_FULL',
          `this snapshot (${info.sizeBytes} bytes) would take snapshots past ${this.o.config.maxSnapshotBytes} bytes`,
        );
      }
      const row: SnapshotRow = {
        id,
        sessionId,
        name: opts.hidden ? `.${req.name ?? 'pause'}` : (req.name ?? id),
        kind,
        backend: live.sandbox.backend,
        image: live.sandbox.image,
        spec: { ...live.row.spec },
        info,
        dir,
        sizeBytes: info.sizeBytes,
        createdAtMs: Date.parse(info.createdAt) || Date.now(),
      };
      await this.o.store.insertSnapshot(row);
      return row;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** The session's snapshots a user sees (a pause keeps a hidden one). */
  async list(sessionId: string): Promise<SnapshotRow[]> {
    return (await this.o.store.listSnapshots(sessionId)).filter((s) => !s.name.startsWith('.'));
  }

  async get(id: string): Promise<SnapshotRow> {
    const row = await this.o.store.getSnapshot(id);
    if (!row) throw new HearthError('SNAPSHOT_NOT_FOUND', `no snapshot with id ${id}`);
    return row;
  }

  async remove(row: SnapshotRow): Promise<void> {
    await rm(row.dir, { recursive: true, force: true });
    await this.o.store.deleteSnapshot(row.id);
  }

  /** Every snapshot of a session, files and rows. */
  async removeAll(sessionId: string): Promise<void> {
    for (const row of await this.o.store.listSnapshots(sessionId)) await this.remove(row);
  }
}
