/**
 * What the workflow executor is given and what it returns: a run → its jobs (legs) → their steps.
 */
import type { SnapshotInfo, SnapshotKind } from '../../backends/backend.js';
import type { SandboxManager } from '../../sandboxes/manager.js';
import type { Contexts, Value } from '../expressions.js';
import type { Workflow } from '../model.js';
import type { JobResult } from '../planner.js';
import type { SecretMask } from './mask.js';

export type StepStatus = 'success' | 'failure' | 'skipped' | 'cancelled';
export type LogStream = 'stdout' | 'stderr';

export interface ExecuteOptions {
  manager: SandboxManager;
  workflow: Workflow;
  /** A host directory whose files are copied into each job's workspace; none means an empty workspace. */
  repositoryDir?: string;
  /** `owner/name`, for github.repository and the exec labels. @default 'local/repository' */
  repository?: string;
  /** The run's id, on every exec as `workflow_run`. @default a random UUID */
  runId?: string;
  /** github, vars, secrets, inputs… (github gets workspace, repository, run_id filled in when absent). */
  contexts?: Contexts;
  /** Variables every step gets under the workflow's `env:` (a CLI's --env-file, act's ACT=true). */
  env?: Record<string, string>;
  /** @default 'default' */
  image?: string;
  /** @default the manager's default backend */
  backend?: string;
  /**
   * `long`: the executor's own bound (maxParallelLegs) limits sandboxes; `short`: each job also waits
   * for one of the manager's slots, shared with other runs. @default 'long'
   */
  slot?: 'short' | 'long';
  /** Legs running at once in this run. @default 4 */
  maxParallelLegs?: number;
  /** The sandbox's work directory as its programs see it. @default '/home/user' */
  workspace?: string;
  /** Output kept per step (the newest bytes); live lines go to onLog whatever this is. @default 65536 */
  maxLogBytesPerStep?: number;
  /** Called with each line a step prints (a line past 64 KiB is cut). */
  onLog?: (job: string, step: string, stream: LogStream, line: string) => void;
  /** Cancels the run: running steps are killed, `if: cancelled()`/`always()` steps still run. */
  signal?: AbortSignal;
  /**
   * What the command knowledge graph says of a step before it runs (LearningService.knowledge):
   * attached to the step's result as `advice`. Its failures never fail a step.
   */
  advisor?: StepAdvisor;
  /** Told as legs and steps start and end (a recorder); a hook that throws never fails a step. */
  hooks?: ExecuteHooks;
  /**
   * `every-step`: after each successful step the leg's sandbox is snapshotted (the richest kind its
   * backend has) and handed to `snapshotter`; a failed snapshot is a warning on the step. @default 'none'
   */
  snapshots?: 'every-step' | 'none';
  /** Where step snapshots go; without it no snapshot is taken. */
  snapshotter?: StepSnapshotter;
  /**
   * Runs one leg from a step on (a retry): the other legs do not run, the leg starts from a snapshot
   * with the state recorded before that step, and the earlier steps are carried over as they were.
   */
  resume?: LegResume;
  /**
   * Hides values from every step's log, live and kept: the run adds its `secrets` context and each
   * `::add-mask::` value. Given, it is shared with the caller (who masks what it prints). @default a new one
   */
  mask?: SecretMask;
  /** Only the matrix legs whose values for these keys are among the listed ones (act's `--matrix k:v`). */
  matrixFilter?: Record<string, string[]>;
  /** A leg's start (before its sandbox) and end, and each step's start and end: for live progress. */
  onEvent?: (event: RunEvent) => void;
  /**
   * Where remote actions (`uses: owner/repo[/path]@ref`) are taken from: `<dir>/<owner>/<repo>@<ref>/`.
   * hearth never downloads actions. @default process.env.HEARTH_ACTIONS_DIR
   */
  actionsDir?: string;
}

export type RunEvent =
  | { type: 'job-start'; job: string; name: string }
  | { type: 'step-start'; job: string; step: string; index: number }
  | { type: 'step-end'; job: string; step: StepRunResult }
  | { type: 'job-end'; job: JobRunResult };

/** The command knowledge graph's view of a step: the predicted success of its last command, and lessons. */
export interface StepAdvisor {
  predictSuccess(
    command: string,
    previous?: string,
  ): Promise<{
    command: string;
    previous: string | null;
    probability: number;
    basis: string;
    evidence: number;
  }>;
  lessons(opts: {
    command: string;
  }): Promise<
    Array<{ command: string; signature: string; occurrences: number; confidence: number; fix: string | null }>
  >;
}

export interface StepAdvice {
  /** The step's last command, normalized, and the command before it (in the step or the one before). */
  command: string;
  previous: string | null;
  /** Laplace-smoothed success of previous → command, else of the command, else the prior. */
  probability: number;
  basis: string;
  evidence: number;
  lessons: Array<{ signature: string; occurrences: number; confidence: number; fix: string | null }>;
}

export interface StepRunResult {
  index: number;
  id: string;
  name: string;
  /** The step's own result (`steps.<id>.outcome`). */
  outcome: StepStatus;
  /** After continue-on-error (`steps.<id>.conclusion`). */
  conclusion: StepStatus;
  exitCode: number | null;
  timedOut: boolean;
  outputs: Record<string, string>;
  durationMs: number;
  /** Why the step failed without an exit code (an action not available, a lost sandbox…). */
  error?: string;
  /** The step's output, stdout and stderr interleaved, at most maxLogBytesPerStep (the newest). */
  log: string;
  /** What GITHUB_STEP_SUMMARY received (bounded). */
  summary: string;
  /** The knowledge graph's prediction and lessons for the step, taken before it ran (with an advisor). */
  advice?: StepAdvice;
  /** What went wrong around the step without failing it (its snapshot could not be taken). */
  warning?: string;
  /** Set on a step a resumed leg did not run again: the run whose result it carries. */
  carriedFrom?: string;
}

export interface JobRunResult {
  /** The leg key: the job id, or `<job id>[<index>]` for a matrix leg. */
  key: string;
  jobId: string;
  name: string;
  result: JobResult;
  sandboxId?: string;
  outputs: Record<string, string>;
  durationMs: number;
  error?: string;
  steps: StepRunResult[];
}

export interface WorkflowRunResult {
  runId: string;
  workflow: string;
  result: 'success' | 'failure' | 'cancelled';
  /** Every leg that ran, in the order they finished, plus jobs that never ran (skipped, failed to plan). */
  jobs: JobRunResult[];
  durationMs: number;
}

/** The state after a step: what a leg resumed at the next step starts with. */
export interface StepState {
  /** The env the next step sees before its own `env:` (workflow, job and GITHUB_ENV so far). */
  env: Record<string, string>;
  /** GITHUB_PATH additions so far, newest first. */
  path: string[];
  /** The `steps` context so far. */
  steps: Record<string, Value>;
  /** Where the step ran in the sandbox. */
  workingDirectory: string;
  /** The step's script as evaluated (a `run:` step). */
  script?: string;
}

export interface ExecuteHooks {
  onJobStart?(e: { legKey: string; name: string; sandboxId: string }): void | Promise<void>;
  onStepStart?(e: { legKey: string; index: number; name: string }): void | Promise<void>;
  /** After the step and its snapshot; `snapshotId` when one was taken. */
  onStepEnd?(e: {
    legKey: string;
    step: StepRunResult;
    state: StepState;
    snapshotId?: string;
  }): void | Promise<void>;
  onJobEnd?(job: JobRunResult): void | Promise<void>;
}

/** Keeps step snapshots: `save` writes the backend's files into the directory it is given. */
export interface StepSnapshotter {
  /** Returns the snapshot's id; throws when it could not be kept (the step gets a warning). */
  take(o: {
    legKey: string;
    stepIndex: number;
    kind: SnapshotKind;
    save: (dir: string) => Promise<SnapshotInfo>;
  }): Promise<string>;
}

/** One leg run again from a step (0-based `fromIndex`). */
export interface LegResume {
  legKey: string;
  fromIndex: number;
  /** The snapshot taken after the step before; none starts a fresh sandbox (fromIndex 0). */
  from?: SnapshotInfo;
  /** The state after the step before; none is the job's own start. */
  state?: Omit<StepState, 'workingDirectory' | 'script'>;
  /** The results of the steps before `fromIndex`, as the earlier run had them. */
  carried: StepRunResult[];
}
