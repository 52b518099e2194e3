import type { Generated } from 'kysely';

/**
 * Column types as the database holds them: JSON as text, times as epoch milliseconds, outputs as
 * bytes. `result` is the result without its output (see `ResultMeta`).
 */
export interface JobsTable {
  seq: Generated<number>;
  id: string;
  status: string;
  language: string;
  version: string | null;
  backend: string | null;
  request: string;
  result: string | null;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  attempts: number;
  owner_pid: number | null;
}

/** One stream of one step's output, byte-exact; deleted with its job. */
export interface JobOutputsTable {
  job_id: string;
  /** The stage whose output it is (`run`, `compile`; see `splitResult`). */
  key: string;
  stream: string;
  bytes: Buffer;
}

/** The host ledger (host/ledger.ts): what each sandbox holds on this host, to free after a crash. */
export interface HostResourcesTable {
  id: string;
  owner_pid: number;
  record: string;
  created_at: number;
}

/** The sandbox manager's rows: who owns each sandbox (by lease) and what it was made from. */
export interface SandboxesTable {
  id: string;
  backend: string;
  image: string;
  state: string;
  /** JSON of the SandboxSpec. */
  spec: string;
  owner_worker: string;
  lease_until: number;
  expires_at: number | null;
  /** JSON object of strings. */
  labels: string;
  created_at: number;
}

export interface SessionsTable {
  id: string;
  state: string;
  backend: string;
  image: string;
  /** JSON of the SessionSpec. */
  spec: string;
  /** JSON object of strings; filtered on in SQL. */
  metadata: string;
  sandbox_id: string | null;
  paused_snapshot_id: string | null;
  error: string | null;
  created_at: number;
  expires_at: number;
  updated_at: number;
}

export interface SnapshotsTable {
  id: string;
  session_id: string;
  name: string;
  kind: string;
  backend: string;
  image: string;
  spec: string;
  /** The backend's SnapshotInfo (JSON): what its restore takes back. */
  info: string;
  /** The directory holding the snapshot's files. */
  dir: string;
  size_bytes: number;
  created_at: number;
}

/** The command knowledge graph (store/learning-store.ts). */
export interface LearnCommandsTable {
  command: string;
  successes: number;
  failures: number;
  success_duration_ms: number;
  last_seen_at: number;
}

export interface LearnEdgesTable {
  previous: string;
  command: string;
  successes: number;
  failures: number;
}

export interface LearnSignaturesTable {
  command: string;
  signature: string;
  count: number;
  last_seen_at: number;
}

export interface LearnFixesTable {
  command: string;
  signature: string;
  fix: string;
  count: number;
}

/** The latest outcomes with their context (JSON object of strings), capped in number. */
export interface LearnOutcomesTable {
  seq: Generated<number>;
  command: string;
  previous: string | null;
  ok: number;
  duration_ms: number;
  signature: string | null;
  context: string;
  at: number;
}

/** A GitHub webhook delivery; `payload` is kept until it is handled. */
export interface GithubDeliveriesTable {
  id: string;
  event: string;
  repository: string | null;
  status: string;
  detail: string | null;
  payload: string | null;
  received_at: number;
  updated_at: number;
}

/** A workflow run a delivery asked for, queued for the runner; `workflows` and `payload` are JSON. */
export interface WorkflowRequestsTable {
  seq: Generated<number>;
  id: string;
  delivery_id: string | null;
  repository: string;
  ref: string;
  sha: string;
  event: string;
  workflows: string;
  payload: string;
  state: string;
  created_at: number;
}

/** A workflow run: what it ran (file content, repository dir, event, inputs, secret names) and how it went. */
export interface WorkflowRunsTable {
  seq: Generated<number>;
  id: string;
  workflow: string;
  workflow_path: string | null;
  workflow_content: string;
  repository_dir: string | null;
  repository: string;
  event: string;
  event_payload: string;
  inputs: string;
  vars: string;
  secret_names: string;
  backend: string | null;
  image: string;
  snapshots: string;
  status: string;
  error: string | null;
  retry_of: string | null;
  owner_pid: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

/** A leg of a run (a job or a matrix combination). */
export interface WorkflowJobsTable {
  run_id: string;
  leg_key: string;
  job_id: string;
  name: string;
  result: string;
  sandbox_id: string | null;
  started_at: number | null;
  duration_ms: number | null;
  error: string | null;
  outputs: string;
  seq: number;
}

/** A step of a leg; `state` (JSON) is what a retry from the next step resumes with. */
export interface WorkflowStepsTable {
  run_id: string;
  leg_key: string;
  step_index: number;
  step_id: string;
  name: string;
  outcome: string;
  conclusion: string;
  exit_code: number | null;
  started_at: number | null;
  duration_ms: number;
  error: string | null;
  log: string;
  summary: string;
  advice: string | null;
  outputs: string;
  snapshot_id: string | null;
  state: string | null;
  carried_from: string | null;
}

/** A snapshot of a leg's sandbox after a step; its files are in `dir`. */
export interface WorkflowSnapshotsTable {
  id: string;
  run_id: string;
  leg_key: string;
  step_index: number;
  kind: string;
  dir: string;
  info: string;
  size_bytes: number;
  created_at: number;
}

export interface Database {
  jobs: JobsTable;
  job_outputs: JobOutputsTable;
  host_resources: HostResourcesTable;
  sandboxes: SandboxesTable;
  sessions: SessionsTable;
  snapshots: SnapshotsTable;
  learn_commands: LearnCommandsTable;
  learn_edges: LearnEdgesTable;
  learn_signatures: LearnSignaturesTable;
  learn_fixes: LearnFixesTable;
  learn_outcomes: LearnOutcomesTable;
  github_deliveries: GithubDeliveriesTable;
  workflow_requests: WorkflowRequestsTable;
  workflow_runs: WorkflowRunsTable;
  workflow_jobs: WorkflowJobsTable;
  workflow_steps: WorkflowStepsTable;
  workflow_snapshots: WorkflowSnapshotsTable;
}
