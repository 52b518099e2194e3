/**
 * Recorded workflow runs: each run and its jobs and steps are kept in the store as they go, with
 * a snapshot after every successful step; a leg can be run again from a step (`retry`) without
 * redoing the steps before it. Runs a process left unfinished when it died are marked failed, and
 * step snapshots older than the retention are freed (the records stay).
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { HearthError } from '../../errors/hearth-error.js';
import { pidAlive } from '../../images/in-use.js';
import type { SandboxManager } from '../../sandboxes/manager.js';
import type {
  WorkflowRunRow,
  WorkflowRunSpec,
  WorkflowRunStore,
  WorkflowStepRow,
} from '../../store/workflow-run-store.js';
import { executeWorkflow, SecretMask } from '../executor/index.js';
import type { WorkflowRunResult } from '../executor/types.js';
import type { Contexts } from '../expressions.js';
import type { Workflow } from '../model.js';
import { parseWorkflow } from '../parse.js';
import { failedStepIndex, legResume, pickLeg, recordedRun } from './legs.js';
import { RunRecorder } from './recorder.js';
import {
  contextsFor,
  isMap,
  passThrough,
  type RunPassThrough,
  type RunRequest,
  runRecordTimes,
  specOf,
} from './run-spec.js';

export interface WorkflowRunsOptions {
  store: WorkflowRunStore;
  manager: SandboxManager;
  /** Step snapshots go in `<snapshotsDir>/<id>` (`<state>/workflow-snapshots`). */
  snapshotsDir: string;
  /** Step snapshots older than this are freed by `sweep`. @default 168 */
  retentionHours?: number;
  onWarning?: (msg: string) => void;
}

export interface RetryRequest extends RunPassThrough {
  /** A leg key or job id; @default the run's only leg, or its only failed one */
  job?: string;
  /** 1-based, as the summary numbers steps. @default the leg's failed step, else 1 */
  fromStep?: number;
  /** Never stored: a retry is given them again. */
  secrets?: Record<string, string>;
}

export interface RecordedRunResult {
  runId: string;
  result: WorkflowRunResult;
}

/** HEARTH_WORKFLOW_SNAPSHOT_RETENTION_HOURS, read once. */
export function workflowRunsConfig(env: NodeJS.ProcessEnv = process.env): { retentionHours: number } {
  const n = Number(env.HEARTH_WORKFLOW_SNAPSHOT_RETENTION_HOURS);
  return { retentionHours: env.HEARTH_WORKFLOW_SNAPSHOT_RETENTION_HOURS && n >= 0 ? n : 168 };
}

export type SnapshotMode = 'every-step' | 'none';

/**
 * Whether a snapshot follows each successful step: `value` (a flag), else `HEARTH_WORKFLOW_SNAPSHOTS`,
 * else every step. A step snapshot costs milliseconds on bwrap but seconds and a memory image on a VM,
 * so runs that will never be debugged or retried can turn them off.
 */
export function snapshotMode(value: string | undefined, env: NodeJS.ProcessEnv = process.env): SnapshotMode {
  const v = value ?? env.HEARTH_WORKFLOW_SNAPSHOTS ?? 'every-step';
  if (v === 'every-step' || v === 'none') return v;
  throw new HearthError(
    'VALIDATION_FAILED',
    `snapshots '${v}' is not one of every-step, none (${value === undefined ? 'HEARTH_WORKFLOW_SNAPSHOTS' : '--snapshots'})`,
    { hint: 'Use every-step (a snapshot after each successful step, for debug and retry) or none.' },
  );
}

export class WorkflowRuns {
  readonly #o: WorkflowRunsOptions;

  constructor(o: WorkflowRunsOptions) {
    this.#o = o;
  }

  /** Marks runs whose process is gone as failed, then frees expired snapshots. */
  async recover(): Promise<void> {
    for (const run of await this.#o.store.unfinishedRuns()) {
      if (run.ownerPid !== null && run.ownerPid !== process.pid && pidAlive(run.ownerPid)) continue;
      if (run.ownerPid === process.pid) continue;
      const error = `the process running it (pid ${run.ownerPid ?? 'unknown'}) ended before the run finished`;
      await this.#o.store.updateRun(run.id, { status: 'failure', error, finishedAtMs: Date.now() });
      const detail = await this.#o.store.getRunDetail(run.id);
      for (const job of detail?.jobs ?? []) {
        if (job.result === 'running') await this.#o.store.upsertJob({ ...job, result: 'failure', error });
      }
    }
    await this.sweep();
  }

  /** Frees step snapshots past the retention (files, then rows); returns how many. */
  async sweep(nowMs = Date.now()): Promise<number> {
    const hours = this.#o.retentionHours ?? 168;
    const old = await this.#o.store.listSnapshots({ createdBeforeMs: nowMs - hours * 3_600_000 });
    for (const s of old) {
      await rm(s.dir, { recursive: true, force: true });
      await this.#o.store.deleteSnapshot(s.id);
    }
    return old.length;
  }

  /**
   * Deletes a finished run's records and frees its snapshots (true); a run still queued or running
   * is refused with WORKFLOW_RUN_ACTIVE, an unknown one with WORKFLOW_RUN_NOT_FOUND.
   */
  async deleteRun(id: string): Promise<boolean> {
    const run = await recordedRun(this.#o.store, id);
    if (run.status === 'queued' || run.status === 'running')
      throw new HearthError('WORKFLOW_RUN_ACTIVE', `run ${id} is ${run.status}`);
    for (const s of await this.#o.store.listSnapshots({ runId: id })) {
      await rm(s.dir, { recursive: true, force: true });
      await this.#o.store.deleteSnapshot(s.id);
    }
    return this.#o.store.deleteRun(id);
  }

  /** Records and runs a workflow; throws only when the workflow is invalid (the run is recorded failed). */
  async execute(req: RunRequest): Promise<RecordedRunResult> {
    const spec = specOf(req);
    const runId = randomUUID();
    const workflow = req.parsed ?? (await this.#parse(spec, runId));
    if (req.workflow === undefined) spec.workflow = workflow.name;
    const contexts = req.contexts ?? contextsFor(spec, req.secrets ?? {});
    return this.#run({ spec, workflow, runId, contexts, pass: passThrough(req), retryOf: null });
  }

  /**
   * Runs one leg of a recorded run again from a step, as a new run: the workflow file and the
   * repository are read again at their recorded paths, the sandbox starts from the snapshot taken
   * after the step before, and the earlier steps are carried over.
   */
  async retry(runId: string, req: RetryRequest = {}): Promise<RecordedRunResult> {
    const old = await recordedRun(this.#o.store, runId);
    const leg = pickLeg(old, req.job);
    const content = old.workflowPath
      ? await readFile(old.workflowPath, 'utf8').catch(() => old.workflowContent)
      : old.workflowContent;
    const spec: WorkflowRunSpec = {
      ...old,
      workflowContent: content,
      secretNames: Object.keys(req.secrets ?? {}),
    };
    const newId = randomUUID();
    const parsed = await this.#parse(spec, newId, runId);
    const job = parsed.jobs.find((j) => j.id === leg.jobId);
    if (!job) {
      throw new HearthError(
        'WORKFLOW_JOB_NOT_FOUND',
        `the workflow ${old.workflowPath ?? old.workflow} no longer has job ${leg.jobId}`,
      );
    }
    const fromStep = req.fromStep ?? (failedStepIndex(leg) ?? 0) + 1;
    if (!Number.isInteger(fromStep) || fromStep < 1 || fromStep > job.steps.length) {
      throw new HearthError(
        'WORKFLOW_STEP_OUT_OF_RANGE',
        `job ${leg.legKey} has steps 1 to ${job.steps.length}; there is no step ${fromStep}`,
      );
    }
    // A webhook's checkout is removed when its run ends: the snapshots are what is left of it.
    if (spec.repositoryDir && !existsSync(spec.repositoryDir)) {
      if (fromStep === 1) {
        throw new HearthError(
          'WORKFLOW_SNAPSHOT_MISSING',
          `the repository run ${runId} ran on (${spec.repositoryDir}) is gone, and step 1 has no snapshot before it`,
          {
            hint: 'Retry from a later step, or run the workflow again (push again, or hearth workflow run).',
          },
        );
      }
      spec.repositoryDir = null;
    }
    const resume = await legResume(this.#o.store, old, leg, fromStep - 1);
    // The one job, on its own: what it needed ran in the earlier run.
    const workflow: Workflow = { ...parsed, jobs: [{ ...job, needs: [] }] };
    return this.#run({
      spec,
      workflow,
      runId: newId,
      retryOf: runId,
      contexts: contextsFor(spec, req.secrets ?? {}),
      pass: passThrough(req),
      resume,
      // Carried steps keep their state and snapshot: a retry of this retry resumes from them too.
      carried: leg.steps
        .filter((s) => s.index < resume.fromIndex)
        .map((s) => ({ ...s, runId: newId, carriedFrom: s.carriedFrom ?? runId })),
    });
  }

  async #parse(spec: WorkflowRunSpec, runId: string, retryOf?: string): Promise<Workflow> {
    try {
      return await parseWorkflow({ file: spec.workflowPath ?? spec.workflow, content: spec.workflowContent });
    } catch (err) {
      // An invalid workflow is a run that failed at once: recorded, so it is listed with why.
      const now = Date.now();
      await this.#o.store.insertRun({
        ...spec,
        ...runRecordTimes(runId, now),
        status: 'failure',
        error: err instanceof Error ? err.message : String(err),
        retryOf: retryOf ?? null,
        ownerPid: null,
        finishedAtMs: now,
      });
      throw err;
    }
  }

  async #run(o: {
    spec: WorkflowRunSpec;
    workflow: Workflow;
    runId: string;
    retryOf: string | null;
    contexts: Contexts;
    pass: RunPassThrough;
    resume?: Awaited<ReturnType<typeof legResume>>;
    carried?: WorkflowStepRow[];
  }): Promise<RecordedRunResult> {
    const { store } = this.#o;
    const now = Date.now();
    const row: WorkflowRunRow = {
      ...o.spec,
      ...runRecordTimes(o.runId, now),
      status: 'running',
      error: null,
      retryOf: o.retryOf,
      ownerPid: process.pid,
      finishedAtMs: null,
    };
    await store.insertRun(row);
    for (const step of o.carried ?? []) await store.upsertStep(step);
    // One mask for the run's live lines and its records: secrets and ::add-mask:: values are never stored.
    const mask = o.pass.mask ?? new SecretMask();
    if (isMap(o.contexts.secrets)) mask.addAll(o.contexts.secrets);
    const recorder = new RunRecorder({
      store,
      runId: o.runId,
      snapshotsDir: this.#o.snapshotsDir,
      redact: (text) => mask.apply(text),
      ...(this.#o.onWarning ? { onWarning: this.#o.onWarning } : {}),
    });
    const snapshots = o.spec.snapshots;
    try {
      const result = await executeWorkflow({
        manager: this.#o.manager,
        workflow: o.workflow,
        runId: o.runId,
        repository: o.spec.repository,
        ...(o.spec.repositoryDir ? { repositoryDir: o.spec.repositoryDir } : {}),
        ...(o.spec.backend ? { backend: o.spec.backend } : {}),
        image: o.spec.image,
        contexts: o.contexts,
        ...o.pass,
        mask,
        hooks: recorder.hooks,
        snapshots,
        snapshotter: recorder.snapshotter,
        ...(o.resume ? { resume: o.resume } : {}),
      });
      await store.updateRun(o.runId, { status: result.result, finishedAtMs: Date.now() });
      return { runId: o.runId, result };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      await store.updateRun(o.runId, { status: 'failure', error, finishedAtMs: Date.now() }).catch(() => {});
      throw err;
    }
  }
}
