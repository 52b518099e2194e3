import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  WorkflowRunDetail,
  WorkflowRunList,
  WorkflowRunLogs,
  WorkflowRunStatus,
  type WorkflowRun as WorkflowRunView,
} from '../../api/workflow-runs.js';
import { HearthError } from '../../errors/hearth-error.js';
import type {
  WorkflowJobRow,
  WorkflowRunRow,
  WorkflowRunStore,
  WorkflowStepRow,
} from '../../store/workflow-run-store.js';
import { ErrorSchema } from '../schemas.js';

export interface WorkflowRunRoutesOptions {
  store: WorkflowRunStore;
  /** Deletes a finished run with its snapshots' files; false when there is no such run. */
  deleteRun(id: string): Promise<boolean>;
}

const RunId = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
const errors = { 400: ErrorSchema, 404: ErrorSchema };

/** Workflow runs as recorded: by the CLI, by webhooks, by retries. */
export const workflowRunRoutes: FastifyPluginAsyncTypebox<WorkflowRunRoutesOptions> = async (app, o) => {
  const detailOf = async (id: string) => {
    const run = await o.store.getRunDetail(id);
    if (!run) throw notFound(id);
    return run;
  };

  app.get(
    '/v1/runs',
    {
      schema: {
        summary: 'Workflow runs, newest first',
        querystring: Type.Object(
          {
            limit: Type.Optional(
              Type.String({ pattern: '^[1-9][0-9]{0,2}$', description: '1–999; @default 50' }),
            ),
            status: Type.Optional(WorkflowRunStatus),
          },
          { additionalProperties: false },
        ),
        response: { 200: WorkflowRunList, ...errors },
      },
    },
    async (req) => {
      const rows = await o.store.listRuns({
        limit: Number(req.query.limit ?? 50),
        ...(req.query.status ? { status: req.query.status } : {}),
      });
      return { runs: rows.map(runView) };
    },
  );

  app.get(
    '/v1/runs/:id',
    {
      schema: {
        summary: 'A workflow run with its jobs and their steps (logs: GET /v1/runs/:id/logs)',
        params: RunId,
        response: { 200: WorkflowRunDetail, ...errors },
      },
    },
    async (req) => {
      const run = await detailOf(req.params.id);
      return {
        ...runView(run),
        jobs: run.jobs.map((j) => ({ ...jobView(j), steps: j.steps.map(stepView) })),
      };
    },
  );

  app.get(
    '/v1/runs/:id/logs',
    {
      schema: {
        summary:
          "A run's step logs: plain text with a header per step, or JSON with `Accept: application/json`",
        params: RunId,
        response: { 200: Type.Union([WorkflowRunLogs, Type.String()]), ...errors },
      },
    },
    async (req, reply) => {
      await detailOf(req.params.id);
      const logs = await o.store.runLogs(req.params.id);
      const steps = logs.map((l) => ({
        job: l.legKey,
        number: l.index + 1,
        name: l.name,
        conclusion: l.conclusion,
        log: l.log,
      }));
      if (!wantsJson(req.headers.accept)) {
        const text = steps
          .map((s) => `=== ${s.job} › ${s.number}. ${s.name} (${s.conclusion})\n${withNewline(s.log)}`)
          .join('');
        return reply.type('text/plain; charset=utf-8').serializer(String).send(text);
      }
      return { runId: req.params.id, steps };
    },
  );

  app.delete(
    '/v1/runs/:id',
    {
      schema: {
        summary: 'Deletes a finished run, its records and its step snapshots',
        params: RunId,
        response: { 204: Type.Null(), 409: ErrorSchema, ...errors },
      },
    },
    async (req, reply) => {
      const run = await detailOf(req.params.id);
      if (run.status === 'queued' || run.status === 'running') {
        throw new HearthError('WORKFLOW_RUN_ACTIVE', `run ${run.id} is ${run.status}`);
      }
      if (!(await o.deleteRun(run.id))) throw notFound(run.id);
      return reply.status(204).send(null);
    },
  );
};

function notFound(id: string): HearthError {
  return new HearthError('WORKFLOW_RUN_NOT_FOUND', `no workflow run ${id}`);
}

function wantsJson(accept: string | undefined): boolean {
  return !!accept && /application\/json/i.test(accept) && !/text\/plain/i.test(accept);
}

function withNewline(s: string): string {
  return s === '' || s.endsWith('\n') ? s : `${s}\n`;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function runView(r: WorkflowRunRow): WorkflowRunView {
  return {
    id: r.id,
    workflow: r.workflow,
    workflowPath: r.workflowPath,
    repository: r.repository,
    event: r.event,
    status: r.status,
    error: r.error,
    retryOf: r.retryOf,
    backend: r.backend,
    image: r.image,
    snapshots: r.snapshots,
    createdAt: new Date(r.createdAtMs).toISOString(),
    startedAt: iso(r.startedAtMs),
    finishedAt: iso(r.finishedAtMs),
    durationMs: r.startedAtMs !== null && r.finishedAtMs !== null ? r.finishedAtMs - r.startedAtMs : null,
  };
}

function jobView(j: WorkflowJobRow) {
  return {
    key: j.legKey,
    jobId: j.jobId,
    name: j.name,
    result: j.result,
    sandboxId: j.sandboxId,
    startedAt: iso(j.startedAtMs),
    durationMs: j.durationMs,
    error: j.error,
    outputs: j.outputs,
  };
}

function stepView(s: WorkflowStepRow) {
  return {
    number: s.index + 1,
    id: s.stepId,
    name: s.name,
    outcome: s.outcome,
    conclusion: s.conclusion,
    exitCode: s.exitCode,
    startedAt: iso(s.startedAtMs),
    durationMs: s.durationMs,
    error: s.error,
    outputs: s.outputs,
    summary: s.summary,
    snapshotId: s.snapshotId,
    carriedFrom: s.carriedFrom,
    advice: s.advice ?? null,
  };
}
