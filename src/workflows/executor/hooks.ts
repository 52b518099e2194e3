/**
 * What a run tells its observer (a recorder) as legs and steps start and end, the port step
 * snapshots go through, and what a resumed leg starts from. None of it may fail a step: a hook
 * that throws is logged on nothing and forgotten, a snapshot that fails is a warning.
 */
import type { SnapshotKind } from '../../backends/backend.js';
import type { ManagedSandbox } from '../../sandboxes/managed-sandbox.js';
import type { ExecuteHooks, StepRunResult, StepSnapshotter, StepState } from './types.js';

/** Calls a hook; whatever it throws or rejects with is dropped. */
export async function callHook<T>(fn: ((e: T) => void | Promise<void>) | undefined, e: T): Promise<void> {
  if (!fn) return;
  try {
    await fn(e);
  } catch {
    // An observer must not fail the run it watches.
  }
}

/** The richest snapshot kind the sandbox's backend has, or none. */
export function snapshotKindOf(sandbox: ManagedSandbox): SnapshotKind | undefined {
  if (!sandbox.raw.snapshot) return undefined;
  if (sandbox.capabilities.includes('memory-snapshots')) return 'memory';
  if (sandbox.capabilities.includes('fs-snapshots')) return 'filesystem';
  return undefined;
}

/** Snapshots the leg's sandbox after a step: the snapshot's id, or a warning saying why there is none. */
export async function snapshotAfterStep(
  sandbox: ManagedSandbox,
  snapshotter: StepSnapshotter,
  o: { legKey: string; stepIndex: number },
): Promise<{ snapshotId?: string; warning?: string }> {
  const kind = snapshotKindOf(sandbox);
  const snapshot = sandbox.raw.snapshot;
  if (!kind || !snapshot) return { warning: `backend ${sandbox.backend} has no snapshots; none was taken` };
  try {
    const snapshotId = await snapshotter.take({
      ...o,
      kind,
      save: (dir) => snapshot.call(sandbox.raw, { dir, kind }),
    });
    return { snapshotId };
  } catch (err) {
    return { warning: `the snapshot after this step failed: ${(err as Error)?.message ?? String(err)}` };
  }
}

/**
 * The end of a step: a snapshot when asked for and the step ran and succeeded, then `onStepEnd`
 * with the state a resume at the next step needs. Returns the step, with a warning if the snapshot failed.
 */
export async function endStep(
  o: { hooks?: ExecuteHooks; snapshots?: 'every-step' | 'none'; snapshotter?: StepSnapshotter },
  e: {
    legKey: string;
    sandbox: ManagedSandbox;
    step: StepRunResult;
    /** False for a step that was skipped or failed before it ran: nothing changed, no snapshot. */
    ran: boolean;
    state: StepState;
  },
): Promise<StepRunResult> {
  let step = e.step;
  let snapshotId: string | undefined;
  if (
    o.snapshots === 'every-step' &&
    o.snapshotter &&
    e.ran &&
    step.outcome === 'success' &&
    e.sandbox.alive
  ) {
    const taken = await snapshotAfterStep(e.sandbox, o.snapshotter, {
      legKey: e.legKey,
      stepIndex: step.index,
    });
    snapshotId = taken.snapshotId;
    if (taken.warning)
      step = { ...step, warning: taken.warning, log: `${step.log}warning: ${taken.warning}\n` };
  }
  await callHook(o.hooks?.onStepEnd, {
    legKey: e.legKey,
    step,
    state: e.state,
    ...(snapshotId ? { snapshotId } : {}),
  });
  return step;
}
