import type { Selectable } from 'kysely';
import type { RlmRun } from '../api/rlm.js';
import type { FinishRlmRun, NewRlmRun, RlmStore } from './rlm-store.js';
import type { RlmRunsTable, RlmStepsTable } from './schema.js';
import type { SqliteQueries } from './sqlite-queries.js';
import { guarded } from './store-errors.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function toRun(r: Selectable<RlmRunsTable>, steps: Selectable<RlmStepsTable>[]): RlmRun {
  return {
    id: r.id,
    parentId: r.parent_id,
    depth: r.depth,
    query: r.query,
    rootModel: r.root_model,
    subModel: r.sub_model,
    backend: r.backend,
    state: r.finished_at === null ? 'running' : 'finished',
    stopReason: r.stop_reason as RlmRun['stopReason'],
    answer: r.answer,
    error: r.error ? JSON.parse(r.error) : null,
    tokensIn: r.tokens_in,
    tokensOut: r.tokens_out,
    iterations: r.iterations,
    createdAt: iso(r.created_at) as string,
    finishedAt: iso(r.finished_at),
    steps: steps.map((s) => ({
      runId: s.run_id,
      index: s.idx,
      modelText: s.model_text,
      code: s.code,
      output: s.output,
      durationMs: s.duration_ms,
      tokensIn: s.tokens_in,
      tokensOut: s.tokens_out,
      subCalls: s.sub_calls,
    })),
  };
}

/** RLM runs and steps on SQLite (see RlmStore). */
export class SqliteRlmRows implements RlmStore {
  readonly #q: SqliteQueries;

  constructor(queries: SqliteQueries) {
    this.#q = queries;
  }

  async createRun(r: NewRlmRun): Promise<void> {
    const insert = this.#q.db.insertInto('rlm_runs').values({
      id: r.id,
      parent_id: r.parentId,
      depth: r.depth,
      query: r.query,
      root_model: r.rootModel,
      sub_model: r.subModel,
      backend: r.backend,
      budgets: JSON.stringify(r.budgets),
      stop_reason: null,
      answer: null,
      error: null,
      tokens_in: 0,
      tokens_out: 0,
      iterations: 0,
      created_at: r.createdAtMs,
      finished_at: null,
    });
    guarded('record the RLM run', () => this.#q.write(insert));
  }

  async addStep(s: RlmRun['steps'][number]): Promise<void> {
    const insert = this.#q.db.insertInto('rlm_steps').values({
      run_id: s.runId,
      idx: s.index,
      model_text: s.modelText,
      code: s.code,
      output: s.output,
      duration_ms: s.durationMs,
      tokens_in: s.tokensIn,
      tokens_out: s.tokensOut,
      sub_calls: s.subCalls,
    });
    guarded('record the RLM step', () => this.#q.write(insert));
  }

  async finishRun(f: FinishRlmRun): Promise<void> {
    const update = this.#q.db
      .updateTable('rlm_runs')
      .set({
        stop_reason: f.stopReason,
        answer: f.answer,
        error: f.error ? JSON.stringify(f.error) : null,
        tokens_in: f.tokensIn,
        tokens_out: f.tokensOut,
        iterations: f.iterations,
        finished_at: f.finishedAtMs,
        ...(f.backend ? { backend: f.backend } : {}),
      })
      .where('id', '=', f.id);
    guarded('record the end of the RLM run', () => this.#q.write(update));
  }

  async getRun(id: string): Promise<RlmRun | undefined> {
    const [run] = this.#q.rows<Selectable<RlmRunsTable>>(
      this.#q.db.selectFrom('rlm_runs').selectAll().where('id', '=', id),
    );
    if (!run) return undefined;
    const steps = this.#q.rows<Selectable<RlmStepsTable>>(
      this.#q.db.selectFrom('rlm_steps').selectAll().where('run_id', '=', id).orderBy('idx'),
    );
    return toRun(run, steps);
  }

  async childRuns(parentId: string): Promise<string[]> {
    return this.#q
      .rows<{ id: string }>(
        this.#q.db.selectFrom('rlm_runs').select('id').where('parent_id', '=', parentId).orderBy('seq'),
      )
      .map((r) => r.id);
  }
}
