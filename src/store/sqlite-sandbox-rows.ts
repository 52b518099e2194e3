import type { Selectable } from 'kysely';
import type { SandboxRow, SandboxRowPatch, SandboxRowState, SandboxRowStore } from './sandbox-row-store.js';
import type { SandboxesTable } from './schema.js';
import type { SqliteQueries } from './sqlite-queries.js';
import { guarded } from './store-errors.js';

const toRow = (r: Selectable<SandboxesTable>): SandboxRow => ({
  id: r.id,
  backend: r.backend,
  image: r.image,
  state: r.state as SandboxRowState,
  spec: JSON.parse(r.spec),
  ownerWorker: r.owner_worker,
  leaseUntilMs: r.lease_until,
  expiresAtMs: r.expires_at,
  labels: JSON.parse(r.labels),
  createdAtMs: r.created_at,
});

/** The manager's sandbox rows on SQLite (see SandboxRowStore). */
export class SqliteSandboxRows implements SandboxRowStore {
  readonly #q: SqliteQueries;

  constructor(queries: SqliteQueries) {
    this.#q = queries;
  }

  async insertSandbox(row: SandboxRow): Promise<void> {
    guarded('record the sandbox row', () =>
      this.#q.write(
        this.#q.db.insertInto('sandboxes').values({
          id: row.id,
          backend: row.backend,
          image: row.image,
          state: row.state,
          spec: JSON.stringify(row.spec),
          owner_worker: row.ownerWorker,
          lease_until: row.leaseUntilMs,
          expires_at: row.expiresAtMs,
          labels: JSON.stringify(row.labels),
          created_at: row.createdAtMs,
        }),
      ),
    );
  }

  async updateSandbox(id: string, patch: SandboxRowPatch): Promise<void> {
    const set: Partial<SandboxesTable> = {};
    if (patch.state !== undefined) set.state = patch.state;
    if (patch.expiresAtMs !== undefined) set.expires_at = patch.expiresAtMs;
    if (patch.labels !== undefined) set.labels = JSON.stringify(patch.labels);
    if (patch.leaseUntilMs !== undefined) set.lease_until = patch.leaseUntilMs;
    if (!Object.keys(set).length) return;
    guarded('update the sandbox row', () =>
      this.#q.write(this.#q.db.updateTable('sandboxes').set(set).where('id', '=', id)),
    );
  }

  async deleteSandbox(id: string): Promise<void> {
    guarded('delete the sandbox row', () =>
      this.#q.write(this.#q.db.deleteFrom('sandboxes').where('id', '=', id)),
    );
  }

  async getSandbox(id: string): Promise<SandboxRow | undefined> {
    const [row] = guarded('read the sandbox row', () =>
      this.#q.rows<Selectable<SandboxesTable>>(
        this.#q.db.selectFrom('sandboxes').selectAll().where('id', '=', id),
      ),
    );
    return row && toRow(row);
  }

  async listSandboxes(filter: { ownerWorker?: string } = {}): Promise<SandboxRow[]> {
    let q = this.#q.db.selectFrom('sandboxes').selectAll().orderBy('created_at').orderBy('id');
    if (filter.ownerWorker !== undefined) q = q.where('owner_worker', '=', filter.ownerWorker);
    return guarded('list sandbox rows', () => this.#q.rows<Selectable<SandboxesTable>>(q).map(toRow));
  }

  async renewLeases(workerId: string, untilMs: number): Promise<number> {
    return guarded('renew the sandbox leases', () =>
      this.#q.write(
        this.#q.db
          .updateTable('sandboxes')
          .set({ lease_until: untilMs })
          .where('owner_worker', '=', workerId),
      ),
    );
  }

  async expiredLeases(nowMs: number): Promise<SandboxRow[]> {
    return guarded('list expired sandbox leases', () =>
      this.#q
        .rows<Selectable<SandboxesTable>>(
          this.#q.db
            .selectFrom('sandboxes')
            .selectAll()
            .where('lease_until', '<=', nowMs)
            .orderBy('lease_until')
            .orderBy('id'),
        )
        .map(toRow),
    );
  }

  async claimSandbox(
    id: string,
    claim: { workerId: string; nowMs: number; leaseUntilMs: number },
  ): Promise<boolean> {
    const changed = guarded('claim the sandbox', () =>
      this.#q.write(
        this.#q.db
          .updateTable('sandboxes')
          .set({ owner_worker: claim.workerId, lease_until: claim.leaseUntilMs })
          .where('id', '=', id)
          .where('lease_until', '<=', claim.nowMs),
      ),
    );
    return changed > 0;
  }
}
