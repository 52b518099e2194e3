import type { Selectable } from 'kysely';
import type { DeliveryRow, DeliveryStatus, GitHubStore, WorkflowRequestRow } from './github-store.js';
import type { GithubDeliveriesTable, WorkflowRequestsTable } from './schema.js';
import type { SqliteQueries } from './sqlite-queries.js';
import { guarded } from './store-errors.js';

const toDelivery = (r: Selectable<GithubDeliveriesTable>): DeliveryRow => ({
  id: r.id,
  event: r.event,
  repository: r.repository,
  status: r.status as DeliveryStatus,
  detail: r.detail,
  receivedAtMs: r.received_at,
  updatedAtMs: r.updated_at,
});

const toRequest = (r: Selectable<WorkflowRequestsTable>): WorkflowRequestRow => ({
  id: r.id,
  deliveryId: r.delivery_id,
  repository: r.repository,
  ref: r.ref,
  sha: r.sha,
  event: r.event,
  workflows: JSON.parse(r.workflows),
  payload: JSON.parse(r.payload),
  state: 'queued',
  createdAtMs: r.created_at,
});

/** GitHub deliveries and workflow requests on SQLite (see GitHubStore). */
export class SqliteGitHubRows implements GitHubStore {
  readonly #q: SqliteQueries;

  constructor(queries: SqliteQueries) {
    this.#q = queries;
  }

  async recordDelivery(d: {
    id: string;
    event: string;
    repository: string | null;
    payload: string;
    atMs: number;
  }): Promise<boolean> {
    // One statement: two copies of a delivery arriving together cannot both be taken as new.
    const insert = this.#q.db
      .insertInto('github_deliveries')
      .values({
        id: d.id,
        event: d.event,
        repository: d.repository,
        status: 'queued',
        detail: null,
        payload: d.payload,
        received_at: d.atMs,
        updated_at: d.atMs,
      })
      .onConflict((oc) => oc.column('id').doNothing());
    return guarded('record the webhook delivery', () => this.#q.write(insert)) === 1;
  }

  async finishDelivery(
    id: string,
    status: Exclude<DeliveryStatus, 'queued'>,
    detail: string,
    atMs: number,
  ): Promise<void> {
    guarded('record the outcome of the webhook delivery', () =>
      this.#q.write(
        this.#q.db
          .updateTable('github_deliveries')
          .set({ status, detail: detail.slice(0, 4000), payload: null, updated_at: atMs })
          .where('id', '=', id),
      ),
    );
  }

  async getDelivery(id: string): Promise<DeliveryRow | undefined> {
    const [row] = guarded('read the webhook delivery', () =>
      this.#q.rows<Selectable<GithubDeliveriesTable>>(
        this.#q.db.selectFrom('github_deliveries').selectAll().where('id', '=', id),
      ),
    );
    return row && toDelivery(row);
  }

  async queuedDeliveries(limit: number): Promise<Array<DeliveryRow & { payload: string }>> {
    const rows = guarded('read the queued webhook deliveries', () =>
      this.#q.rows<Selectable<GithubDeliveriesTable>>(
        this.#q.db
          .selectFrom('github_deliveries')
          .selectAll()
          .where('status', '=', 'queued')
          .orderBy('received_at')
          .limit(limit),
      ),
    );
    return rows.map((r) => ({ ...toDelivery(r), payload: r.payload ?? '{}' }));
  }

  async insertWorkflowRequest(row: WorkflowRequestRow): Promise<void> {
    guarded('queue the workflow request', () =>
      this.#q.write(
        this.#q.db.insertInto('workflow_requests').values({
          id: row.id,
          delivery_id: row.deliveryId,
          repository: row.repository,
          ref: row.ref,
          sha: row.sha,
          event: row.event,
          workflows: JSON.stringify(row.workflows),
          payload: JSON.stringify(row.payload ?? null),
          state: row.state,
          created_at: row.createdAtMs,
        }),
      ),
    );
  }

  async listWorkflowRequests(opts: { limit: number; deliveryId?: string }): Promise<WorkflowRequestRow[]> {
    let q = this.#q.db.selectFrom('workflow_requests').selectAll();
    if (opts.deliveryId !== undefined) q = q.where('delivery_id', '=', opts.deliveryId);
    const rows = guarded('list the workflow requests', () =>
      this.#q.rows<Selectable<WorkflowRequestsTable>>(q.orderBy('seq', 'desc').limit(opts.limit)),
    );
    return rows.map(toRequest);
  }
}
