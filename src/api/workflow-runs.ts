/**
 * The workflow runs API's contract: a run, its jobs (matrix legs) and steps, as the TypeBox schemas
 * the server answers with. Imports TypeBox only, for the SDK.
 */
import { type Static, Type } from '@sinclair/typebox';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Time = Nullable(Type.String({ description: 'ISO 8601' }));
const Text = Nullable(Type.String());
const Outputs = Type.Record(Type.String(), Type.String());

export const WorkflowRunStatus = Type.Union([
  Type.Literal('queued'),
  Type.Literal('running'),
  Type.Literal('success'),
  Type.Literal('failure'),
  Type.Literal('cancelled'),
]);

export const WorkflowRun = Type.Object(
  {
    id: Type.String(),
    workflow: Type.String({ description: "The workflow's `name:`, or its file name" }),
    workflowPath: Text,
    repository: Type.String(),
    event: Type.String(),
    status: WorkflowRunStatus,
    error: Text,
    retryOf: Text,
    backend: Text,
    image: Type.String(),
    snapshots: Type.Union([Type.Literal('every-step'), Type.Literal('none')]),
    createdAt: Type.String(),
    startedAt: Time,
    finishedAt: Time,
    durationMs: Type.Union([Type.Number(), Type.Null()]),
  },
  { $id: 'WorkflowRun' },
);
export type WorkflowRun = Static<typeof WorkflowRun>;

export const WorkflowStep = Type.Object({
  /** 1-based, as the CLI's summary and `retry --from-step` count. */
  number: Type.Integer({ minimum: 1 }),
  id: Type.String(),
  name: Type.String(),
  outcome: Type.String(),
  conclusion: Type.String(),
  exitCode: Type.Union([Type.Integer(), Type.Null()]),
  startedAt: Time,
  durationMs: Type.Number(),
  error: Text,
  outputs: Outputs,
  summary: Type.String(),
  snapshotId: Text,
  carriedFrom: Text,
  advice: Type.Unknown(),
});

export const WorkflowJob = Type.Object({
  key: Type.String({ description: 'The job id, or `<job id>[<index>]` for a matrix leg' }),
  jobId: Type.String(),
  name: Type.String(),
  result: Type.String(),
  sandboxId: Text,
  startedAt: Time,
  durationMs: Type.Union([Type.Number(), Type.Null()]),
  error: Text,
  outputs: Outputs,
  steps: Type.Array(WorkflowStep),
});

export const WorkflowRunDetail = Type.Intersect(
  [WorkflowRun, Type.Object({ jobs: Type.Array(WorkflowJob) })],
  {
    $id: 'WorkflowRunDetail',
  },
);
export type WorkflowRunDetail = Static<typeof WorkflowRunDetail>;

export const WorkflowRunList = Type.Object({ runs: Type.Array(WorkflowRun) }, { $id: 'WorkflowRunList' });

export const WorkflowRunLogs = Type.Object(
  {
    runId: Type.String(),
    steps: Type.Array(
      Type.Object({
        job: Type.String(),
        number: Type.Integer({ minimum: 1 }),
        name: Type.String(),
        conclusion: Type.String(),
        log: Type.String(),
      }),
    ),
  },
  { $id: 'WorkflowRunLogs' },
);
export type WorkflowRunLogs = Static<typeof WorkflowRunLogs>;
