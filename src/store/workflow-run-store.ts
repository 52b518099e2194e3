/** A workflow run's status: queued → running → one of the final three. */
export type WorkflowRunStatus = 'queued' | 'running' | 'success' | 'failure' | 'cancelled';

/** What a run ran: enough to run it again (a retry re-reads the file and the directory at their paths). */
export interface WorkflowRunSpec {
  /** The workflow's `name:` (or its file name). */
  workflow: string;
  /** The workflow file on the host, when it came from one. */
  workflowPath: string | null;
  /** The file's text as it was run. */
  workflowContent: string;
  /** The host directory copied into each job's workspace. */
  repositoryDir: string | null;
  /** `owner/name`. */
  repository: string;
  event: string;
  eventPayload: unknown;
  inputs: Record<string, string>;
  vars: Record<string, string>;
  /** The names of the secrets the run was given; their values are never stored. */
  secretNames: string[];
  backend: string | null;
  image: string;
  /** Whether a snapshot follows each successful step. */
  snapshots: 'every-step' | 'none';
}

export interface WorkflowRunRow extends WorkflowRunSpec {
  id: string;
  status: WorkflowRunStatus;
  /** Why the run failed outside its steps (an invalid workflow, the process that ran it died). */
  error: string | null;
  /** The run this one retries. */
  retryOf: string | null;
  /** The process running it; a running run whose process is gone is marked failed. */
  ownerPid: number | null;
  createdAtMs: number;
  startedAtMs: number | null;
  finishedAtMs: number | null;
}

export interface WorkflowJobRow {
  runId: string;
  /** The job id, or `<job id>[<index>]` for a matrix leg. */
  legKey: string;
  jobId: string;
  name: string;
  /** `running` until it ends, then the planner's result. */
  result: string;
  sandboxId: string | null;
  startedAtMs: number | null;
  durationMs: number | null;
  error: string | null;
  outputs: Record<string, string>;
}

/** What a retry from the step after this one resumes with. */
export interface WorkflowStepState {
  /** The env the next step sees before its own `env:` (workflow, job, GITHUB_ENV so far). */
  env: Record<string, string>;
  /** GITHUB_PATH additions so far, newest first. */
  path: string[];
  /** The `steps` context so far (ids written in the workflow only). */
  steps: Record<string, unknown>;
  /** The step's working directory in the sandbox. */
  workingDirectory: string;
  /** The step's script as evaluated (a `run:` step): what a shell opened at the step shows. */
  script?: string;
  /** Variables of `env` whose values held a secret: recorded masked, taken again on a retry. */
  redacted?: string[];
}

export interface WorkflowStepRow {
  runId: string;
  legKey: string;
  /** 0-based, as the executor counts; users see it plus one. */
  index: number;
  stepId: string;
  name: string;
  outcome: string;
  conclusion: string;
  exitCode: number | null;
  startedAtMs: number | null;
  durationMs: number;
  error: string | null;
  /** The newest bytes of its output, as the executor kept them. */
  log: string;
  summary: string;
  advice: unknown;
  outputs: Record<string, string>;
  /** The snapshot taken after it, if any. */
  snapshotId: string | null;
  state: WorkflowStepState | null;
  /** Set on a retry's copy of a step it did not run again: the run the result comes from. */
  carriedFrom: string | null;
}

export interface WorkflowSnapshotRow {
  id: string;
  runId: string;
  legKey: string;
  /** The step it follows (0-based). */
  stepIndex: number;
  kind: 'memory' | 'filesystem';
  /** The directory holding its files; removed by the caller before the row. */
  dir: string;
  /** The backend's SnapshotInfo, as JSON: what `acquire({from})` takes back. */
  info: unknown;
  sizeBytes: number;
  createdAtMs: number;
}

export interface WorkflowRunDetail extends WorkflowRunRow {
  /** In the order they started. */
  jobs: Array<WorkflowJobRow & { steps: WorkflowStepRow[] }>;
}

export interface WorkflowRunLog {
  legKey: string;
  index: number;
  name: string;
  conclusion: string;
  log: string;
}

/** Workflow runs, their jobs, steps and step snapshots, as rows. Async: a remote store implements it too. */
export interface WorkflowRunStore {
  insertRun(row: WorkflowRunRow): Promise<void>;
  /** Sets the fields given; false when there is no such run. */
  updateRun(
    id: string,
    patch: Partial<Pick<WorkflowRunRow, 'status' | 'error' | 'ownerPid' | 'startedAtMs' | 'finishedAtMs'>>,
  ): Promise<boolean>;
  getRun(id: string): Promise<WorkflowRunRow | undefined>;
  /** With its jobs and their steps. */
  getRunDetail(id: string): Promise<WorkflowRunDetail | undefined>;
  /** Newest first. */
  listRuns(opts: { limit: number; status?: WorkflowRunStatus }): Promise<WorkflowRunRow[]>;
  /** Runs queued or running, with their owner process. */
  unfinishedRuns(): Promise<WorkflowRunRow[]>;
  /** Inserts or replaces the leg's row. */
  upsertJob(row: WorkflowJobRow): Promise<void>;
  /** Inserts or replaces the step's row. */
  upsertStep(row: WorkflowStepRow): Promise<void>;
  /** The logs of a run's steps, ordered by job (as they started), then step. */
  runLogs(id: string): Promise<WorkflowRunLog[]>;
  insertSnapshot(row: WorkflowSnapshotRow): Promise<void>;
  getSnapshot(id: string): Promise<WorkflowSnapshotRow | undefined>;
  /** A run's snapshots, or all taken before `createdBeforeMs`, oldest first. */
  listSnapshots(opts: { runId?: string; createdBeforeMs?: number }): Promise<WorkflowSnapshotRow[]>;
  /** Removes the row and the step's reference to it; false when there was no row. */
  deleteSnapshot(id: string): Promise<boolean>;
  /** The run with its jobs, steps and snapshot rows (their files are the caller's to remove first). */
  deleteRun(id: string): Promise<boolean>;
}
