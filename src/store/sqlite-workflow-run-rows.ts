import type { Selectable } from 'kysely';
import type {
  WorkflowJobsTable,
  WorkflowRunsTable,
  WorkflowSnapshotsTable,
  WorkflowStepsTable,
} from './schema.js';
import type { SqliteQueries } from './sqlite-queries.js';
import { guarded } from './store-errors.js';
import {
  jobValues,
  runValues,
  snapshotValues,
  stepValues,
  toJob,
  toRun,
  toSnapshot,
  toStep,
} from './workflow-run-rows.js';
import type {
  WorkflowJobRow,
  WorkflowRunDetail,
  WorkflowRunLog,
  WorkflowRunRow,
  WorkflowRunStatus,
  WorkflowRunStore,
  WorkflowSnapshotRow,
  WorkflowStepRow,
} from './workflow-run-store.js';

const MAX_LIST = 500;

/** Workflow runs on SQLite (see WorkflowRunStore); jobs, steps and snapshot rows cascade with their run. */
export class SqliteWorkflowRunRows implements WorkflowRunStore {
  readonly #q: SqliteQueries;

  constructor(queries: SqliteQueries) {
    this.#q = queries;
  }

  async insertRun(row: WorkflowRunRow): Promise<void> {
    guarded('record the workflow run', () =>
      this.#q.write(this.#q.db.insertInto('workflow_runs').values(runValues(row))),
    );
  }

  async updateRun(
    id: string,
    patch: Partial<Pick<WorkflowRunRow, 'status' | 'error' | 'ownerPid' | 'startedAtMs' | 'finishedAtMs'>>,
  ): Promise<boolean> {
    const set: Partial<Selectable<WorkflowRunsTable>> = {};
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.error !== undefined) set.error = patch.error;
    if (patch.ownerPid !== undefined) set.owner_pid = patch.ownerPid;
    if (patch.startedAtMs !== undefined) set.started_at = patch.startedAtMs;
    if (patch.finishedAtMs !== undefined) set.finished_at = patch.finishedAtMs;
    if (Object.keys(set).length === 0) return (await this.getRun(id)) !== undefined;
    const q = this.#q.db.updateTable('workflow_runs').set(set).where('id', '=', id);
    return guarded('update the workflow run', () => this.#q.write(q)) > 0;
  }

  async getRun(id: string): Promise<WorkflowRunRow | undefined> {
    const [row] = guarded('read the workflow run', () =>
      this.#q.rows<Selectable<WorkflowRunsTable>>(
        this.#q.db.selectFrom('workflow_runs').selectAll().where('id', '=', id),
      ),
    );
    return row && toRun(row);
  }

  async getRunDetail(id: string): Promise<WorkflowRunDetail | undefined> {
    const run = await this.getRun(id);
    if (!run) return undefined;
    const { jobs, steps } = guarded('read the workflow run', () => ({
      jobs: this.#q.rows<Selectable<WorkflowJobsTable>>(
        this.#q.db.selectFrom('workflow_jobs').selectAll().where('run_id', '=', id).orderBy('seq'),
      ),
      steps: this.#q.rows<Selectable<WorkflowStepsTable>>(
        this.#q.db.selectFrom('workflow_steps').selectAll().where('run_id', '=', id).orderBy('step_index'),
      ),
    }));
    return {
      ...run,
      jobs: jobs.map((j) => ({
        ...toJob(j),
        steps: steps.filter((s) => s.leg_key === j.leg_key).map(toStep),
      })),
    };
  }

  async listRuns(opts: { limit: number; status?: WorkflowRunStatus }): Promise<WorkflowRunRow[]> {
    let q = this.#q.db.selectFrom('workflow_runs').selectAll();
    if (opts.status !== undefined) q = q.where('status', '=', opts.status);
    const limit = Math.max(1, Math.min(Math.floor(opts.limit), MAX_LIST));
    const rows = guarded('list the workflow runs', () =>
      this.#q.rows<Selectable<WorkflowRunsTable>>(q.orderBy('seq', 'desc').limit(limit)),
    );
    return rows.map(toRun);
  }

  async unfinishedRuns(): Promise<WorkflowRunRow[]> {
    const rows = guarded('list the unfinished workflow runs', () =>
      this.#q.rows<Selectable<WorkflowRunsTable>>(
        this.#q.db
          .selectFrom('workflow_runs')
          .selectAll()
          .where('status', 'in', ['queued', 'running'])
          .orderBy('seq'),
      ),
    );
    return rows.map(toRun);
  }

  async upsertJob(row: WorkflowJobRow): Promise<void> {
    guarded('record the workflow job', () => {
      // A leg keeps the position it started at: the order jobs are listed and their logs read.
      const [prev] = this.#q.rows<{ seq: number }>(
        this.#q.db
          .selectFrom('workflow_jobs')
          .select('seq')
          .where('run_id', '=', row.runId)
          .where('leg_key', '=', row.legKey),
      );
      const [count] = this.#q.rows<{ n: number }>(
        this.#q.db
          .selectFrom('workflow_jobs')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('run_id', '=', row.runId),
      );
      const values = jobValues(row, prev?.seq ?? count?.n ?? 0);
      this.#q.write(
        this.#q.db
          .insertInto('workflow_jobs')
          .values(values)
          .onConflict((oc) => oc.columns(['run_id', 'leg_key']).doUpdateSet(values)),
      );
    });
  }

  async upsertStep(row: WorkflowStepRow): Promise<void> {
    const values = stepValues(row);
    guarded('record the workflow step', () =>
      this.#q.write(
        this.#q.db
          .insertInto('workflow_steps')
          .values(values)
          .onConflict((oc) => oc.columns(['run_id', 'leg_key', 'step_index']).doUpdateSet(values)),
      ),
    );
  }

  async runLogs(id: string): Promise<WorkflowRunLog[]> {
    const rows = guarded('read the workflow run logs', () =>
      this.#q.rows<{ leg_key: string; step_index: number; name: string; conclusion: string; log: string }>(
        this.#q.db
          .selectFrom('workflow_steps as s')
          .leftJoin('workflow_jobs as j', (join) =>
            join.onRef('j.run_id', '=', 's.run_id').onRef('j.leg_key', '=', 's.leg_key'),
          )
          .select(['s.leg_key', 's.step_index', 's.name', 's.conclusion', 's.log'])
          .where('s.run_id', '=', id)
          .orderBy('j.seq')
          .orderBy('s.leg_key')
          .orderBy('s.step_index'),
      ),
    );
    return rows.map((r) => ({
      legKey: r.leg_key,
      index: r.step_index,
      name: r.name,
      conclusion: r.conclusion,
      log: r.log,
    }));
  }

  async insertSnapshot(row: WorkflowSnapshotRow): Promise<void> {
    guarded('record the workflow snapshot', () =>
      this.#q.write(this.#q.db.insertInto('workflow_snapshots').values(snapshotValues(row))),
    );
  }

  async getSnapshot(id: string): Promise<WorkflowSnapshotRow | undefined> {
    const [row] = guarded('read the workflow snapshot', () =>
      this.#q.rows<Selectable<WorkflowSnapshotsTable>>(
        this.#q.db.selectFrom('workflow_snapshots').selectAll().where('id', '=', id),
      ),
    );
    return row && toSnapshot(row);
  }

  async listSnapshots(opts: { runId?: string; createdBeforeMs?: number }): Promise<WorkflowSnapshotRow[]> {
    let q = this.#q.db.selectFrom('workflow_snapshots').selectAll();
    if (opts.runId !== undefined) q = q.where('run_id', '=', opts.runId);
    if (opts.createdBeforeMs !== undefined) q = q.where('created_at', '<', opts.createdBeforeMs);
    const rows = guarded('list the workflow snapshots', () =>
      this.#q.rows<Selectable<WorkflowSnapshotsTable>>(q.orderBy('created_at'), { cache: false }),
    );
    return rows.map(toSnapshot);
  }

  async deleteSnapshot(id: string): Promise<boolean> {
    const drop = this.#q.raw.transaction(() => {
      this.#q.write(
        this.#q.db.updateTable('workflow_steps').set({ snapshot_id: null }).where('snapshot_id', '=', id),
      );
      return this.#q.write(this.#q.db.deleteFrom('workflow_snapshots').where('id', '=', id));
    });
    return guarded('delete the workflow snapshot', () => drop()) > 0;
  }

  async deleteRun(id: string): Promise<boolean> {
    const q = this.#q.db.deleteFrom('workflow_runs').where('id', '=', id);
    return guarded('delete the workflow run', () => this.#q.write(q)) > 0;
  }
}
