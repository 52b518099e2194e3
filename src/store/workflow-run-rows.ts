/**
 * Workflow run rows ↔ their records: JSON columns parsed, and a row that does not parse read as empty
 * rather than failing a listing.
 */
import type { Insertable, Selectable } from 'kysely';
import type {
  WorkflowJobsTable,
  WorkflowRunsTable,
  WorkflowSnapshotsTable,
  WorkflowStepsTable,
} from './schema.js';
import type {
  WorkflowJobRow,
  WorkflowRunRow,
  WorkflowRunStatus,
  WorkflowSnapshotRow,
  WorkflowStepRow,
  WorkflowStepState,
} from './workflow-run-store.js';

function parsed<T>(text: string | null, fallback: T): T {
  if (text === null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export const runValues = (r: WorkflowRunRow): Insertable<WorkflowRunsTable> => ({
  id: r.id,
  workflow: r.workflow,
  workflow_path: r.workflowPath,
  workflow_content: r.workflowContent,
  repository_dir: r.repositoryDir,
  repository: r.repository,
  event: r.event,
  event_payload: JSON.stringify(r.eventPayload ?? null),
  inputs: JSON.stringify(r.inputs),
  vars: JSON.stringify(r.vars),
  secret_names: JSON.stringify(r.secretNames),
  backend: r.backend,
  image: r.image,
  snapshots: r.snapshots,
  status: r.status,
  error: r.error,
  retry_of: r.retryOf,
  owner_pid: r.ownerPid,
  created_at: r.createdAtMs,
  started_at: r.startedAtMs,
  finished_at: r.finishedAtMs,
});

export const toRun = (r: Selectable<WorkflowRunsTable>): WorkflowRunRow => ({
  id: r.id,
  workflow: r.workflow,
  workflowPath: r.workflow_path,
  workflowContent: r.workflow_content,
  repositoryDir: r.repository_dir,
  repository: r.repository,
  event: r.event,
  eventPayload: parsed(r.event_payload, null),
  inputs: parsed(r.inputs, {}),
  vars: parsed(r.vars, {}),
  secretNames: parsed(r.secret_names, []),
  backend: r.backend,
  image: r.image,
  snapshots: r.snapshots === 'every-step' ? 'every-step' : 'none',
  status: r.status as WorkflowRunStatus,
  error: r.error,
  retryOf: r.retry_of,
  ownerPid: r.owner_pid,
  createdAtMs: r.created_at,
  startedAtMs: r.started_at,
  finishedAtMs: r.finished_at,
});

export const jobValues = (j: WorkflowJobRow, seq: number): Insertable<WorkflowJobsTable> => ({
  run_id: j.runId,
  leg_key: j.legKey,
  job_id: j.jobId,
  name: j.name,
  result: j.result,
  sandbox_id: j.sandboxId,
  started_at: j.startedAtMs,
  duration_ms: j.durationMs,
  error: j.error,
  outputs: JSON.stringify(j.outputs),
  seq,
});

export const toJob = (r: Selectable<WorkflowJobsTable>): WorkflowJobRow => ({
  runId: r.run_id,
  legKey: r.leg_key,
  jobId: r.job_id,
  name: r.name,
  result: r.result,
  sandboxId: r.sandbox_id,
  startedAtMs: r.started_at,
  durationMs: r.duration_ms,
  error: r.error,
  outputs: parsed(r.outputs, {}),
});

export const stepValues = (s: WorkflowStepRow): Insertable<WorkflowStepsTable> => ({
  run_id: s.runId,
  leg_key: s.legKey,
  step_index: s.index,
  step_id: s.stepId,
  name: s.name,
  outcome: s.outcome,
  conclusion: s.conclusion,
  exit_code: s.exitCode,
  started_at: s.startedAtMs,
  duration_ms: s.durationMs,
  error: s.error,
  log: s.log,
  summary: s.summary,
  advice: s.advice === undefined || s.advice === null ? null : JSON.stringify(s.advice),
  outputs: JSON.stringify(s.outputs),
  snapshot_id: s.snapshotId,
  state: s.state ? JSON.stringify(s.state) : null,
  carried_from: s.carriedFrom,
});

export const toStep = (r: Selectable<WorkflowStepsTable>): WorkflowStepRow => ({
  runId: r.run_id,
  legKey: r.leg_key,
  index: r.step_index,
  stepId: r.step_id,
  name: r.name,
  outcome: r.outcome,
  conclusion: r.conclusion,
  exitCode: r.exit_code,
  startedAtMs: r.started_at,
  durationMs: r.duration_ms,
  error: r.error,
  log: r.log,
  summary: r.summary,
  advice: parsed(r.advice, null),
  outputs: parsed(r.outputs, {}),
  snapshotId: r.snapshot_id,
  state: parsed<WorkflowStepState | null>(r.state, null),
  carriedFrom: r.carried_from,
});

export const snapshotValues = (s: WorkflowSnapshotRow): Insertable<WorkflowSnapshotsTable> => ({
  id: s.id,
  run_id: s.runId,
  leg_key: s.legKey,
  step_index: s.stepIndex,
  kind: s.kind,
  dir: s.dir,
  info: JSON.stringify(s.info),
  size_bytes: s.sizeBytes,
  created_at: s.createdAtMs,
});

export const toSnapshot = (r: Selectable<WorkflowSnapshotsTable>): WorkflowSnapshotRow => ({
  id: r.id,
  runId: r.run_id,
  legKey: r.leg_key,
  stepIndex: r.step_index,
  kind: r.kind === 'memory' ? 'memory' : 'filesystem',
  dir: r.dir,
  info: parsed(r.info, null),
  sizeBytes: r.size_bytes,
  createdAtMs: r.created_at,
});
