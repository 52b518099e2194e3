/**
 * Finding the leg of a recorded run a retry or a debug shell is about, and the snapshot and state
 * it resumes from: every way this can fail is a HearthError that says what to do.
 */
import type { SnapshotInfo } from '../../backends/backend.js';
import { HearthError } from '../../errors/hearth-error.js';
import type {
  WorkflowJobRow,
  WorkflowRunDetail,
  WorkflowRunStore,
  WorkflowStepRow,
} from '../../store/workflow-run-store.js';
import type { LegResume, StepRunResult, StepStatus } from '../executor/types.js';

export type RecordedLeg = WorkflowJobRow & { steps: WorkflowStepRow[] };

export async function recordedRun(store: WorkflowRunStore, runId: string): Promise<WorkflowRunDetail> {
  const run = await store.getRunDetail(runId);
  if (!run) throw new HearthError('WORKFLOW_RUN_NOT_FOUND', `no workflow run with id ${runId}`);
  return run;
}

/**
 * The leg `job` names (a leg key, or a job id with one leg). Without `job`: the run's only leg, or
 * its only failed one.
 */
export function pickLeg(run: WorkflowRunDetail, job?: string): RecordedLeg {
  const legs = run.jobs.filter((j) => j.steps.length > 0 || j.sandboxId !== null);
  // Named in the order users count legs (m[2] before m[10]), not the order they happened to start.
  const byKey = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });
  const keys =
    legs
      .map((l) => l.legKey)
      .sort(byKey)
      .join(', ') || 'none';
  if (job !== undefined) {
    const exact = legs.find((l) => l.legKey === job);
    if (exact) return exact;
    const ofJob = legs.filter((l) => l.jobId === job);
    if (ofJob.length === 1 && ofJob[0]) return ofJob[0];
    if (ofJob.length > 1)
      throw new HearthError(
        'WORKFLOW_JOB_AMBIGUOUS',
        `job ${job} of run ${run.id} ran as ${ofJob.length} legs: name one of ${ofJob
          .map((l) => l.legKey)
          .sort(byKey)
          .join(', ')}`,
      );
    throw new HearthError('WORKFLOW_JOB_NOT_FOUND', `run ${run.id} has no job ${job}; its jobs: ${keys}`);
  }
  if (legs.length === 1 && legs[0]) return legs[0];
  const failed = legs.filter((l) => l.result === 'failure');
  if (failed.length === 1 && failed[0]) return failed[0];
  if (legs.length === 0) throw new HearthError('WORKFLOW_JOB_NOT_FOUND', `run ${run.id} ran no job`);
  throw new HearthError(
    'WORKFLOW_JOB_AMBIGUOUS',
    `run ${run.id} has several jobs${failed.length > 1 ? ' that failed' : ''}: name one of ${keys}`,
  );
}

/** The leg's first failed step (0-based), or undefined. */
export function failedStepIndex(leg: RecordedLeg): number | undefined {
  return leg.steps.find((s) => s.conclusion === 'failure' || s.outcome === 'failure')?.index;
}

/**
 * The snapshot to start step `fromIndex` from: the one taken after the step before it, or after
 * an earlier one when every step between was skipped (they changed nothing). None for step 0.
 */
export async function snapshotBefore(
  store: WorkflowRunStore,
  run: WorkflowRunDetail,
  leg: RecordedLeg,
  fromIndex: number,
): Promise<{ info: SnapshotInfo; stepIndex: number } | undefined> {
  const step = (i: number) => leg.steps.find((s) => s.index === i);
  for (let i = fromIndex - 1; i >= 0; i--) {
    const s = step(i);
    if (s?.snapshotId) {
      const snap = await store.getSnapshot(s.snapshotId);
      if (snap) return { info: snap.info as SnapshotInfo, stepIndex: i };
    }
    if (s?.outcome !== 'skipped') {
      const why =
        run.snapshots === 'none'
          ? 'snapshots were off for that run'
          : !s
            ? `step ${i + 1} did not run`
            : s.outcome !== 'success'
              ? `step ${i + 1} did not succeed`
              : 'it was freed (retention or a deleted run) or could not be taken';
      throw new HearthError(
        'WORKFLOW_SNAPSHOT_MISSING',
        `run ${run.id}, job ${leg.legKey} has no snapshot after step ${i + 1} to start step ${fromIndex + 1} from: ${why}`,
      );
    }
  }
  return undefined;
}

/** The resume of `leg` at `fromIndex`: its snapshot, the state recorded before it, the steps carried over. */
export async function legResume(
  store: WorkflowRunStore,
  run: WorkflowRunDetail,
  leg: RecordedLeg,
  fromIndex: number,
): Promise<LegResume> {
  const from = await snapshotBefore(store, run, leg, fromIndex);
  const before = leg.steps.filter((s) => s.index < fromIndex);
  const prev = leg.steps.find((s) => s.index === fromIndex - 1);
  if (fromIndex > 0 && (!prev?.state || before.length !== fromIndex)) {
    throw new HearthError(
      'WORKFLOW_SNAPSHOT_MISSING',
      `run ${run.id}, job ${leg.legKey} has no record of the state after step ${fromIndex}`,
    );
  }
  return {
    legKey: leg.legKey,
    fromIndex,
    ...(from ? { from: from.info } : {}),
    ...(prev?.state
      ? {
          state: {
            // A variable recorded masked comes from the job's env again, with the secrets given now.
            env: Object.fromEntries(
              Object.entries(prev.state.env).filter(([k]) => !prev.state?.redacted?.includes(k)),
            ),
            path: prev.state.path,
            steps: prev.state.steps as NonNullable<LegResume['state']>['steps'],
          },
        }
      : {}),
    carried: before.map((s) => carriedStep(s, run.id)),
  };
}

function carriedStep(s: WorkflowStepRow, runId: string): StepRunResult {
  return {
    index: s.index,
    id: s.stepId,
    name: s.name,
    outcome: s.outcome as StepStatus,
    conclusion: s.conclusion as StepStatus,
    exitCode: s.exitCode,
    timedOut: false,
    outputs: s.outputs,
    durationMs: s.durationMs,
    log: s.log,
    summary: s.summary,
    carriedFrom: s.carriedFrom ?? runId,
  };
}
