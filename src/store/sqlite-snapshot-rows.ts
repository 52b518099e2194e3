import type { Selectable } from 'kysely';
import { HearthError } from '../errors/hearth-error.js';
import type { SnapshotsTable } from './schema.js';
import type { SnapshotRow, SnapshotRowKind, SnapshotStore } from './snapshot-store.js';
import type { SqliteQueries } from './sqlite-queries.js';
import { guarded, storeError } from './store-errors.js';

const toSnapshot = (r: Selectable<SnapshotsTable>): SnapshotRow => ({
  id: r.id,
  sessionId: r.session_id,
  name: r.name,
  kind: r.kind as SnapshotRowKind,
  backend: r.backend,
  image: r.image,
  spec: JSON.parse(r.spec),
  info: JSON.parse(r.info),
  dir: r.dir,
  sizeBytes: r.size_bytes,
  createdAtMs: r.created_at,
});

/** Snapshots on SQLite (see SnapshotStore). */
export class SqliteSnapshotRows implements SnapshotStore {
  readonly #q: SqliteQueries;

  constructor(queries: SqliteQueries) {
    this.#q = queries;
  }

  async insertSnapshot(row: SnapshotRow): Promise<void> {
    const insert = this.#q.db.insertInto('snapshots').values({
      id: row.id,
      session_id: row.sessionId,
      name: row.name,
      kind: row.kind,
      backend: row.backend,
      image: row.image,
      spec: JSON.stringify(row.spec),
      info: JSON.stringify(row.info),
      dir: row.dir,
      size_bytes: row.sizeBytes,
      created_at: row.createdAtMs,
    });
    try {
      this.#q.write(insert);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
        throw new HearthError('NOT_FOUND', `no session ${row.sessionId} to keep the snapshot under`, {
          cause: err,
        });
      }
      throw storeError(err, 'record the snapshot');
    }
  }

  async getSnapshot(id: string): Promise<SnapshotRow | undefined> {
    const [row] = guarded('read the snapshot', () =>
      this.#q.rows<Selectable<SnapshotsTable>>(
        this.#q.db.selectFrom('snapshots').selectAll().where('id', '=', id),
      ),
    );
    return row && toSnapshot(row);
  }

  async listSnapshots(sessionId: string): Promise<SnapshotRow[]> {
    return guarded('list snapshots', () =>
      this.#q
        .rows<Selectable<SnapshotsTable>>(
          this.#q.db
            .selectFrom('snapshots')
            .selectAll()
            .where('session_id', '=', sessionId)
            .orderBy('created_at')
            .orderBy('id'),
        )
        .map(toSnapshot),
    );
  }

  async deleteSnapshot(id: string): Promise<boolean> {
    const deleted = guarded('delete the snapshot', () =>
      this.#q.write(this.#q.db.deleteFrom('snapshots').where('id', '=', id)),
    );
    return deleted > 0;
  }

  async totalSnapshotBytes(): Promise<number> {
    const [row] = guarded('sum the snapshot sizes', () =>
      this.#q.rows<{ total: number }>(
        this.#q.db
          .selectFrom('snapshots')
          .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('size_bytes'), eb.lit(0)).as('total')),
      ),
    );
    return Number(row?.total ?? 0);
  }
}
