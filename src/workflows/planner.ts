/**
 * The run of a workflow as a readiness machine the executor drives: `next()` gives the legs (jobs,
 * or matrix combinations of a job) that may start now; `finished()` records each leg's result. Job
 * `if:` and `strategy:` are evaluated when the job's needs are done, with their results and outputs
 * in the `needs` context; fail-fast, max-parallel and a bound on concurrent legs are applied here.
 */

import { HearthError } from '../errors/hearth-error.js';
import { evaluateCondition } from './conditions.js';
import type { Contexts, StatusCheck, Value } from './expressions.js';
import { ancestors, checkGraph } from './graph.js';
import { expandStrategy, type MatrixValues } from './matrix.js';
import type { JobDefinition, RunDefaults, Workflow } from './model.js';
import { evaluateTemplate, toText } from './template.js';

export type JobResult = 'success' | 'failure' | 'cancelled' | 'skipped';
export type LegResult = 'success' | 'failure' | 'cancelled';

/** One job, or one matrix combination of a job: what gets one sandbox. */
export interface Leg {
  /** Unique in the run: the job id, or `<job id>[<index>]` for a matrix leg. */
  key: string;
  jobId: string;
  job: JobDefinition;
  matrix: MatrixValues;
  /** The `strategy` context of this leg. */
  strategy: { 'fail-fast': boolean; 'max-parallel': number; 'job-index': number; 'job-total': number };
  /** The `needs` context of this job. */
  needs: Record<string, { result: JobResult; outputs: Record<string, string> }>;
  /** `defaults.run` of the job over those of the workflow (a step's own shell/working-directory win). */
  defaults: RunDefaults;
}

export interface LegOutcome {
  result: LegResult;
  /** The job's `outputs:` as evaluated at the end of this leg. */
  outputs?: Record<string, string>;
  /** The leg's `continue-on-error:` evaluated true: its failure does not fail the job. */
  continueOnError?: boolean;
}

export interface PlanOptions {
  /** github, vars, secrets, inputs… for the job-level `if:` and `strategy:`. */
  contexts: Contexts;
  /** Legs running at once in this run. @default 4 */
  maxParallelLegs?: number;
  /** Only the matrix legs whose values for these keys are among the listed ones; none left skips the job. */
  matrixFilter?: Record<string, string[]>;
}

export interface JobState {
  result: JobResult | undefined;
  outputs: Record<string, string>;
  /** Why the job failed before any leg ran (its `if:` or `strategy:` could not be evaluated). */
  error?: string;
}

interface JobRun {
  job: JobDefinition;
  state: JobState;
  resolved: boolean;
  failFast: boolean;
  maxParallel: number;
  pending: Leg[];
  running: Set<string>;
  outcomes: LegOutcome[];
  total: number;
}

export class WorkflowPlan {
  readonly #jobs = new Map<string, JobRun>();
  readonly #order: JobDefinition[];
  readonly #defaults: RunDefaults;
  readonly #contexts: Contexts;
  readonly #maxLegs: number;
  readonly #matrixFilter: Record<string, string[]> | undefined;
  readonly #running = new Map<string, JobRun>();
  #cancelled = false;

  constructor(workflow: Workflow, opts: PlanOptions) {
    const problems = checkGraph(workflow.jobs);
    if (problems.length > 0) {
      throw new HearthError('WORKFLOW_INVALID', problems.map((p) => p.message).join('\n'));
    }
    this.#order = workflow.jobs;
    this.#defaults = workflow.defaults;
    this.#contexts = opts.contexts;
    this.#maxLegs = Math.max(1, opts.maxParallelLegs ?? 4);
    this.#matrixFilter = opts.matrixFilter;
    for (const job of workflow.jobs) {
      this.#jobs.set(job.id, {
        job,
        state: { result: undefined, outputs: {} },
        resolved: false,
        failFast: true,
        maxParallel: Number.POSITIVE_INFINITY,
        pending: [],
        running: new Set(),
        outcomes: [],
        total: 0,
      });
    }
  }

  /** True once every job has a result. */
  get done(): boolean {
    return [...this.#jobs.values()].every((j) => j.state.result !== undefined);
  }

  /** Every job's result so far (undefined while it has none) and outputs. */
  jobs(): Record<string, JobState> {
    return Object.fromEntries([...this.#jobs].map(([id, j]) => [id, { ...j.state }]));
  }

  /** The run's result: failure if a job failed, cancelled if cancelled, else success. */
  result(): 'success' | 'failure' | 'cancelled' {
    const results = [...this.#jobs.values()].map((j) => j.state.result);
    if (results.includes('failure')) return 'failure';
    return this.#cancelled || results.includes('cancelled') ? 'cancelled' : 'success';
  }

  /**
   * Resolves the jobs whose needs are done (their `if:` and strategy) and returns the legs that may
   * start now, counted as running from here on. Call again after each finished().
   */
  async next(): Promise<Leg[]> {
    // Resolving a job can finish it at once (skipped, or failed to evaluate), which can unblock others.
    for (let progress = true; progress; ) {
      progress = false;
      for (const job of this.#order) {
        const run = this.#jobs.get(job.id) as JobRun;
        if (run.resolved || !job.needs.every((n) => this.#jobs.get(n)?.state.result !== undefined)) continue;
        await this.#resolve(run);
        progress = true;
      }
    }
    const start: Leg[] = [];
    for (const job of this.#order) {
      const run = this.#jobs.get(job.id) as JobRun;
      while (
        run.pending.length > 0 &&
        run.running.size < run.maxParallel &&
        this.#running.size < this.#maxLegs
      ) {
        const leg = run.pending.shift() as Leg;
        run.running.add(leg.key);
        this.#running.set(leg.key, run);
        start.push(leg);
      }
    }
    return start;
  }

  /** Records a leg's end. Returns the running legs the executor must now cancel (fail-fast). */
  finished(key: string, outcome: LegOutcome): { cancel: string[] } {
    const run = this.#running.get(key);
    if (!run) throw new HearthError('INTERNAL', `leg '${key}' is not running`);
    this.#running.delete(key);
    run.running.delete(key);
    run.outcomes.push(outcome);
    for (const [name, value] of Object.entries(outcome.outputs ?? {})) {
      if (value !== '' || !(name in run.state.outputs)) run.state.outputs[name] = value;
    }
    let cancel: string[] = [];
    if (outcome.result === 'failure' && !outcome.continueOnError && run.failFast) {
      run.outcomes.push(...run.pending.map(() => ({ result: 'cancelled' as const })));
      run.pending = [];
      cancel = [...run.running];
    }
    this.#settle(run);
    return { cancel };
  }

  /** Cancels the run: legs not started are cancelled; returns the running ones to cancel. */
  cancel(): string[] {
    this.#cancelled = true;
    for (const run of this.#jobs.values()) {
      run.outcomes.push(...run.pending.map(() => ({ result: 'cancelled' as const })));
      run.pending = [];
      this.#settle(run);
    }
    return [...this.#running.keys()];
  }

  async #resolve(run: JobRun): Promise<void> {
    run.resolved = true;
    const job = run.job;
    const needs = Object.fromEntries(
      job.needs.map((n) => {
        const s = (this.#jobs.get(n) as JobRun).state;
        return [n, { result: s.result as JobResult, outputs: { ...s.outputs } }];
      }),
    );
    const contexts: Contexts = { ...this.#contexts, needs: needs as unknown as Value };
    try {
      if (!(await evaluateCondition(job.if, { contexts, status: this.#status(job) }))) {
        run.state.result = 'skipped';
        return;
      }
      const strategy = expandStrategy(
        job.id,
        job.strategy ? await evaluateTemplate(job.strategy, { contexts, spliceArrays: true }) : undefined,
      );
      const filter = this.#matrixFilter;
      if (filter) strategy.legs = strategy.legs.filter((leg) => matrixMatches(leg, filter));
      if (strategy.legs.length === 0) {
        run.state.result = 'skipped';
        return;
      }
      run.failFast = strategy.failFast;
      run.maxParallel = strategy.maxParallel ?? Number.POSITIVE_INFINITY;
      run.total = strategy.legs.length;
      run.pending = strategy.legs.map((matrix, index) => ({
        key: strategy.legs.length === 1 && Object.keys(matrix).length === 0 ? job.id : `${job.id}[${index}]`,
        jobId: job.id,
        job,
        matrix,
        strategy: {
          'fail-fast': strategy.failFast,
          'max-parallel': strategy.maxParallel ?? strategy.legs.length,
          'job-index': index,
          'job-total': strategy.legs.length,
        },
        needs,
        defaults: {
          shell: job.defaults.shell ?? this.#defaults.shell,
          workingDirectory: job.defaults.workingDirectory ?? this.#defaults.workingDirectory,
        },
      }));
    } catch (err) {
      run.state.result = 'failure';
      run.state.error = err instanceof Error ? err.message : String(err);
    }
  }

  /** success() for a job: its needs succeeded and nothing before them failed; failure(): something did. */
  #status(job: JobDefinition): StatusCheck {
    const before = [...ancestors(this.#order, job.id)].map((id) => this.#jobs.get(id)?.state.result);
    const failed = before.includes('failure');
    const needsOk = job.needs.every((n) => this.#jobs.get(n)?.state.result === 'success');
    const broken = failed || before.includes('cancelled');
    return { success: needsOk && !broken, failure: failed, cancelled: this.#cancelled };
  }

  #settle(run: JobRun): void {
    if (run.state.result !== undefined || !run.resolved) return;
    if (run.pending.length > 0 || run.running.size > 0 || run.outcomes.length < run.total) return;
    const counts = (r: LegResult) =>
      run.outcomes.some((o) => o.result === r && !(r === 'failure' && o.continueOnError));
    run.state.result = counts('failure') ? 'failure' : counts('cancelled') ? 'cancelled' : 'success';
  }
}

/** A key the filter names and the leg has must hold one of the filter's values (compared as text). */
function matrixMatches(leg: MatrixValues, filter: Record<string, string[]>): boolean {
  return Object.entries(filter).every(
    ([key, values]) => !(key in leg) || values.includes(toText(leg[key] as Value)),
  );
}

/** A leg's display name: its evaluated `name:`, or the job id with its matrix values, as GitHub shows them. */
export function legName(leg: Leg, evaluatedName?: string): string {
  if (evaluatedName) return evaluatedName;
  const values = Object.values(leg.matrix);
  return values.length === 0 ? leg.jobId : `${leg.jobId} (${values.map((v) => toText(v)).join(', ')})`;
}
