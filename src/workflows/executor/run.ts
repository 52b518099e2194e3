/**
 * A workflow run: the planner says which legs may start, each leg runs in its own sandbox
 * (job.ts), and its result goes back to the planner so that `needs` and job outputs flow on.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { toHearthError } from '../../errors/hearth-error.js';
import type { Contexts, Value } from '../expressions.js';
import { type Leg, legName, WorkflowPlan } from '../planner.js';
import { evaluateStringMap, evaluateTemplate, toText } from '../template.js';
import { completeGithub, githubEnv } from './github-env.js';
import { callHook } from './hooks.js';
import { runLeg } from './job.js';
import { SecretMask } from './mask.js';
import type { ExecuteOptions, JobRunResult, WorkflowRunResult } from './types.js';

const DEFAULT_WORKSPACE = '/home/user';

/** Runs every job of `o.workflow`; resolves when all are done. Throws only for an invalid workflow graph. */
export async function executeWorkflow(o: ExecuteOptions): Promise<WorkflowRunResult> {
  const started = performance.now();
  const runId = o.runId ?? randomUUID();
  const repository = o.repository ?? 'local/repository';
  const workspace = o.workspace ?? DEFAULT_WORKSPACE;
  const given = o.contexts ?? {};
  const github = completeGithub({
    repository,
    run_id: runId,
    workspace,
    workflow: o.workflow.name,
    event_name: 'push',
    ...(isMap(given.github) ? given.github : {}),
  });
  const runner = { os: 'Linux', arch: 'X64', temp: '/tmp' };
  const contexts: Contexts = { ...given, github, runner };
  const mask = o.mask ?? new SecretMask();
  mask.addAll(isMap(given.secrets) ? given.secrets : undefined);
  const plan = new WorkflowPlan(o.workflow, {
    contexts,
    ...(o.maxParallelLegs ? { maxParallelLegs: o.maxParallelLegs } : {}),
    ...(o.matrixFilter ? { matrixFilter: o.matrixFilter } : {}),
  });
  let workflowEnv: Record<string, string> = {};
  const results: JobRunResult[] = [];
  const controllers = new Map<string, AbortController>();
  const onCancel = () => {
    for (const key of plan.cancel()) controllers.get(key)?.abort();
  };
  o.signal?.addEventListener('abort', onCancel, { once: true });
  try {
    workflowEnv = {
      ...o.env,
      ...(await evaluateStringMap(o.workflow.env, { contexts: { ...contexts, env: { ...o.env } } })),
    };
  } catch (err) {
    o.signal?.removeEventListener('abort', onCancel);
    const error = toHearthError(err).message;
    const jobs = o.workflow.jobs.map((j) => notRun(j.id, 'failure', error));
    return {
      runId,
      workflow: o.workflow.name,
      result: 'failure',
      jobs,
      durationMs: performance.now() - started,
    };
  }
  if (o.signal?.aborted) onCancel();
  const running = new Set<Promise<void>>();
  const start = (leg: Leg) => {
    // A resumed run runs its one leg; the job's other matrix legs stand as they were.
    if (o.resume && leg.key !== o.resume.legKey) {
      plan.finished(leg.key, { result: 'success' });
      return;
    }
    const ctrl = new AbortController();
    if (o.signal?.aborted) ctrl.abort();
    controllers.set(leg.key, ctrl);
    const p = (async () => {
      const legContexts: Contexts = {
        ...contexts,
        env: { ...workflowEnv, GITHUB_WORKSPACE: workspace },
        matrix: leg.matrix,
        strategy: leg.strategy,
        needs: leg.needs as unknown as Value,
      };
      const name = leg.job.name
        ? toText(await evaluateTemplate(leg.job.name, { contexts: legContexts }).catch(() => null))
        : '';
      const displayName = legName(leg, name);
      try {
        o.onEvent?.({ type: 'job-start', job: leg.key, name: displayName });
      } catch {
        // A listener must not fail the run it watches.
      }
      const r = await runLeg(
        { ...o, workspace, mask },
        {
          leg,
          name: displayName,
          contexts: legContexts,
          workflowEnv: {
            CI: 'true',
            GITHUB_ACTIONS: 'true',
            ...githubEnv(github, runner),
            GITHUB_WORKSPACE: workspace,
            ...workflowEnv,
          },
          labels: { repository, workflow: o.workflow.name, workflow_job: leg.key, workflow_run: runId },
          signal: ctrl.signal,
        },
      );
      const { continueOnError, ...result } = r;
      results.push(result);
      try {
        o.onEvent?.({ type: 'job-end', job: result });
      } catch {
        // As above.
      }
      await callHook(o.hooks?.onJobEnd, result);
      const outcome = r.result === 'skipped' ? 'success' : r.result;
      const { cancel } = plan.finished(leg.key, { result: outcome, outputs: r.outputs, continueOnError });
      for (const key of cancel) controllers.get(key)?.abort();
    })().finally(() => {
      controllers.delete(leg.key);
      running.delete(p);
    });
    running.add(p);
  };
  try {
    for (;;) {
      for (const leg of await plan.next()) start(leg);
      if (running.size === 0) break;
      await Promise.race(running);
    }
  } finally {
    o.signal?.removeEventListener('abort', onCancel);
  }
  // Jobs that never got a leg (skipped by `if:`, failed to plan, cancelled before starting).
  for (const [id, state] of Object.entries(plan.jobs())) {
    if (results.some((r) => r.jobId === id) || (o.resume && o.resume.legKey.split('[')[0] !== id)) continue;
    const result = notRun(id, state.result ?? 'cancelled', state.error);
    results.push(result);
    await callHook(o.hooks?.onJobEnd, result);
  }
  return {
    runId,
    workflow: o.workflow.name,
    result: plan.result(),
    jobs: results,
    durationMs: performance.now() - started,
  };
}

function notRun(id: string, result: JobRunResult['result'], error?: string): JobRunResult {
  return {
    key: id,
    jobId: id,
    name: id,
    result,
    outputs: {},
    durationMs: 0,
    steps: [],
    ...(error ? { error } : {}),
  };
}

function isMap(v: Value | undefined): v is { [key: string]: Value } {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v);
}
