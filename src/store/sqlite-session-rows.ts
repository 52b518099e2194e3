import { type Selectable, sql } from 'kysely';
import type { SessionsTable } from './schema.js';
import type {
  SessionListQuery,
  SessionPatch,
  SessionRow,
  SessionRowState,
  SessionStore,
} from './session-store.js';
import type { SqliteQueries } from './sqlite-queries.js';
import { guarded } from './store-errors.js';

const toSession = (r: Selectable<SessionsTable>): SessionRow => ({
  id: r.id,
  state: r.state as SessionRowState,
  backend: r.backend,
  image: r.image,
  spec: JSON.parse(r.spec),
  metadata: JSON.parse(r.metadata),
  sandboxId: r.sandbox_id,
  pausedSnapshotId: r.paused_snapshot_id,
  error: r.error === null ? null : JSON.parse(r.error),
  createdAtMs: r.created_at,
  expiresAtMs: r.expires_at,
  updatedAtMs: r.updated_at,
});

/** Sessions on SQLite (see SessionStore). */
export class SqliteSessionRows implements SessionStore {
  readonly #q: SqliteQueries;

  constructor(queries: SqliteQueries) {
    this.#q = queries;
  }

  async insertSession(row: SessionRow): Promise<void> {
    guarded('record the session', () =>
      this.#q.write(
        this.#q.db.insertInto('sessions').values({
          id: row.id,
          state: row.state,
          backend: row.backend,
          image: row.image,
          spec: JSON.stringify(row.spec),
          metadata: JSON.stringify(row.metadata),
          sandbox_id: row.sandboxId,
          paused_snapshot_id: row.pausedSnapshotId,
          error: row.error === null ? null : JSON.stringify(row.error),
          created_at: row.createdAtMs,
          expires_at: row.expiresAtMs,
          updated_at: row.updatedAtMs,
        }),
      ),
    );
  }

  async updateSession(
    id: string,
    patch: SessionPatch,
    opts: { ifState?: readonly SessionRowState[] } = {},
  ): Promise<boolean> {
    const set: Partial<SessionsTable> = { updated_at: patch.updatedAtMs ?? Date.now() };
    if (patch.state !== undefined) set.state = patch.state;
    if (patch.backend !== undefined) set.backend = patch.backend;
    if (patch.metadata !== undefined) set.metadata = JSON.stringify(patch.metadata);
    if (patch.sandboxId !== undefined) set.sandbox_id = patch.sandboxId;
    if (patch.pausedSnapshotId !== undefined) set.paused_snapshot_id = patch.pausedSnapshotId;
    if (patch.error !== undefined) set.error = patch.error === null ? null : JSON.stringify(patch.error);
    if (patch.expiresAtMs !== undefined) set.expires_at = patch.expiresAtMs;
    let q = this.#q.db.updateTable('sessions').set(set).where('id', '=', id);
    if (opts.ifState) {
      if (!opts.ifState.length) return false;
      q = q.where('state', 'in', [...opts.ifState]);
    }
    return guarded('update the session', () => this.#q.write(q)) > 0;
  }

  async getSession(id: string): Promise<SessionRow | undefined> {
    const [row] = guarded('read the session', () =>
      this.#q.rows<Selectable<SessionsTable>>(
        this.#q.db.selectFrom('sessions').selectAll().where('id', '=', id),
      ),
    );
    return row && toSession(row);
  }

  async listSessions(query: SessionListQuery = {}): Promise<SessionRow[]> {
    let q = this.#q.db.selectFrom('sessions').selectAll().orderBy('created_at').orderBy('id');
    if (query.states) {
      if (!query.states.length) return [];
      q = q.where('state', 'in', [...query.states]);
    }
    // One `exists` per key over the object's members: any key text matches exactly, with no JSON
    // path to quote, and only a string member equals the string asked for.
    for (const [key, value] of Object.entries(query.metadata ?? {})) {
      q = q.where(
        sql<boolean>`exists (select 1 from json_each(${sql.ref('sessions.metadata')}) as m
          where m.key = ${key} and m.type = 'text' and m.value = ${value})`,
      );
    }
    return guarded('list sessions', () =>
      this.#q.rows<Selectable<SessionsTable>>(q, { cache: false }).map(toSession),
    );
  }

  async deleteSession(id: string): Promise<boolean> {
    // The snapshots' rows go with it (on delete cascade).
    const deleted = guarded('delete the session', () =>
      this.#q.write(this.#q.db.deleteFrom('sessions').where('id', '=', id)),
    );
    return deleted > 0;
  }

  async expiredSessions(nowMs: number): Promise<SessionRow[]> {
    return guarded('list expired sessions', () =>
      this.#q
        .rows<Selectable<SessionsTable>>(
          this.#q.db
            .selectFrom('sessions')
            .selectAll()
            .where('expires_at', '<=', nowMs)
            .where('state', '!=', 'ended')
            .orderBy('expires_at')
            .orderBy('id'),
        )
        .map(toSession),
    );
  }
}
