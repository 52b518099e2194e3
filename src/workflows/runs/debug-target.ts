/**
 * Where `hearth workflow debug` opens its shell: the leg's last good snapshot before the step that
 * failed, with the env, PATH additions and working directory that step had, and its script.
 */
import type { SnapshotInfo } from '../../backends/backend.js';
import type { WorkflowRunDetail, WorkflowRunStore, WorkflowStepRow } from '../../store/workflow-run-store.js';
import { failedStepIndex, pickLeg, type RecordedLeg, recordedRun, snapshotBefore } from './legs.js';

export interface DebugTarget {
  run: WorkflowRunDetail;
  leg: RecordedLeg;
  /** The step that failed; none when the leg did not fail (the shell is after its last step). */
  failed?: WorkflowStepRow;
  /** The snapshot the shell starts from; none starts a fresh sandbox (the first step failed). */
  from?: SnapshotInfo;
  /** The 1-based step the snapshot was taken after (0: none). */
  afterStep: number;
  env: Record<string, string>;
  /** GITHUB_PATH additions, newest first. */
  path: string[];
  workingDirectory: string;
  /** What the failed step ran. */
  script?: string;
}

export async function debugTarget(
  store: WorkflowRunStore,
  runId: string,
  o: { job?: string; workspace?: string } = {},
): Promise<DebugTarget> {
  const run = await recordedRun(store, runId);
  const leg = pickLeg(run, o.job);
  const failedIndex = failedStepIndex(leg);
  const at = failedIndex ?? leg.steps.length;
  const snapshot = await snapshotBefore(store, run, leg, at);
  const failed = leg.steps.find((s) => s.index === failedIndex);
  const before = leg.steps.find((s) => s.index === at - 1)?.state;
  return {
    run,
    leg,
    ...(failed ? { failed } : {}),
    ...(snapshot ? { from: snapshot.info } : {}),
    afterStep: snapshot ? snapshot.stepIndex + 1 : 0,
    env: before?.env ?? {},
    path: before?.path ?? [],
    workingDirectory:
      failed?.state?.workingDirectory ?? before?.workingDirectory ?? o.workspace ?? '/home/user',
    ...(failed?.state?.script !== undefined ? { script: failed.state.script } : {}),
  };
}
