/**
 * One leg (a job, or a matrix combination of it) in exactly one sandbox: acquired before its first
 * step, released after its last on every path. Steps run in order; `if:` decides with the job's
 * status so far; a failed step without continue-on-error fails the job and only `always()`,
 * `failure()` or `cancelled()` steps still run.
 */
import { performance } from 'node:perf_hooks';
import { toHearthError } from '../../errors/hearth-error.js';
import type { ManagedSandbox } from '../../sandboxes/managed-sandbox.js';
import { evaluateCondition, truthy } from '../conditions.js';
import type { Contexts, EvaluateOptions, Value } from '../expressions.js';
import type { StepDefinition } from '../model.js';
import type { Leg } from '../planner.js';
import { evaluateStringMap, evaluateTemplate, toText } from '../template.js';
import { stepAdvice } from './advice.js';
import { sandboxHashFiles } from './hash-files.js';
import { callHook, endStep } from './hooks.js';
import type { SecretMask } from './mask.js';
import { runStep } from './step.js';
import type {
  ExecuteOptions,
  JobRunResult,
  RunEvent,
  StepAdvisor,
  StepRunResult,
  StepStatus,
} from './types.js';
import { copyWorkspace } from './workspace.js';

/** GitHub's default job timeout: 360 minutes. */
const DEFAULT_JOB_TIMEOUT_MINUTES = 360;
/** What a step running after the job's timeout or a cancel gets when it has no timeout of its own. */
const CLEANUP_TIMEOUT_MS = 5 * 60_000;

export interface LegRun {
  leg: Leg;
  name: string;
  contexts: Contexts;
  /** Workflow env, evaluated. */
  workflowEnv: Record<string, string>;
  labels: Record<string, string>;
  /** Aborted when the run is cancelled or fail-fast cancels this leg. */
  signal: AbortSignal;
}

export type LegOptions = Pick<
  ExecuteOptions,
  | 'manager'
  | 'repositoryDir'
  | 'image'
  | 'backend'
  | 'slot'
  | 'onLog'
  | 'maxLogBytesPerStep'
  | 'advisor'
  | 'hooks'
  | 'snapshots'
  | 'snapshotter'
  | 'resume'
  | 'onEvent'
> & { workspace: string; mask?: SecretMask; actionsDir?: string };

export async function runLeg(
  o: LegOptions,
  run: LegRun,
): Promise<JobRunResult & { continueOnError: boolean }> {
  const started = performance.now();
  const { leg } = run;
  const base = { key: leg.key, jobId: leg.jobId, name: run.name, outputs: {}, steps: [] as StepRunResult[] };
  const contexts: Contexts = { ...run.contexts, env: run.workflowEnv };
  let continueOnError = false;
  let jobTimeoutMs = DEFAULT_JOB_TIMEOUT_MINUTES * 60_000;
  let jobEnv: Record<string, string>;
  try {
    jobEnv = { ...run.workflowEnv, ...(await evaluateStringMap(leg.job.env, { contexts })) };
    if (leg.job.continueOnError)
      continueOnError = truthy(await evaluateTemplate(leg.job.continueOnError, { contexts }));
    if (leg.job.timeoutMinutes)
      jobTimeoutMs = minutes(await evaluateTemplate(leg.job.timeoutMinutes, { contexts }), jobTimeoutMs);
  } catch (err) {
    const error = toHearthError(err).message;
    return { ...base, result: 'failure', error, durationMs: performance.now() - started, continueOnError };
  }
  // The job's timeout and the run's cancel both stop the running step through one signal.
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort();
  run.signal.addEventListener('abort', onAbort, { once: true });
  if (run.signal.aborted) ctrl.abort();
  const deadline = Date.now() + jobTimeoutMs;
  let jobTimedOut = false;
  const timer = setTimeout(() => {
    jobTimedOut = true;
    ctrl.abort();
  }, jobTimeoutMs);
  timer.unref();
  // A resumed leg (a retry) starts from the state recorded before its first step to run.
  const resume = o.resume?.legKey === leg.key ? o.resume : undefined;
  let sandbox: ManagedSandbox | undefined;
  const steps: StepRunResult[] = [];
  let failed = false;
  let error: string | undefined;
  try {
    sandbox = await o.manager.acquire({
      image: o.image ?? 'default',
      backend: o.backend,
      labels: run.labels,
      slot: o.slot ?? 'long',
      signal: ctrl.signal,
      ...(resume?.from ? { from: resume.from } : {}),
    });
    await callHook(o.hooks?.onJobStart, { legKey: leg.key, name: run.name, sandboxId: sandbox.id });
    if (o.repositoryDir) await copyWorkspace(sandbox, o.repositoryDir, o.workspace);
    const tempDir = `/tmp/hearth-workflow/${sandbox.id}`;
    const hashFiles = sandboxHashFiles(sandbox, o.workspace);
    const env = { ...jobEnv, ...resume?.state?.env };
    const path: string[] = [...(resume?.state?.path ?? [])];
    const stepsContext: Record<string, Value> = { ...resume?.state?.steps };
    // The knowledge graph's advice for each `run:` step, with the script of the step before it.
    let previousScript: string | undefined;
    const advisor = o.advisor;
    const adviseOn = async (a: StepAdvisor, script: string) => {
      const advice = await stepAdvice(a, script, previousScript);
      previousScript = script;
      return advice;
    };
    for (const step of leg.job.steps) {
      const carried = resume && step.index < resume.fromIndex ? resume.carried[step.index] : undefined;
      if (resume && step.index < resume.fromIndex) {
        if (carried) steps.push(carried);
        continue;
      }
      const stepContexts: Contexts = {
        ...contexts,
        env: { ...env },
        steps: stepsContext,
        job: { status: failed ? 'failure' : 'success' },
      };
      const cancelled = ctrl.signal.aborted;
      const status = { success: !failed, failure: failed, cancelled };
      let name = step.uses ? `Run ${step.uses}` : `Run ${step.id}`;
      let outcome: StepStatus | undefined;
      let stepResult: StepRunResult | undefined;
      try {
        name = await stepName(step, name, { contexts: stepContexts, hashFiles });
        if (!(await evaluateCondition(step.if, { contexts: stepContexts, status, hashFiles })))
          outcome = 'skipped';
      } catch (err) {
        outcome = 'failure';
        const e = toHearthError(err).message;
        stepResult = stepOf(step.index, step.id, name, 'failure', e);
      }
      if (outcome === 'skipped') stepResult = stepOf(step.index, step.id, name, 'skipped');
      await callHook(o.hooks?.onStepStart, { legKey: leg.key, index: step.index, name });
      let ran: { workingDirectory?: string; script?: string } | undefined;
      if (!stepResult) {
        const stepMinutes = step.timeoutMinutes
          ? minutes(
              await evaluateTemplate(step.timeoutMinutes, { contexts: stepContexts }).catch(() => null),
              0,
            )
          : 0;
        const left = deadline - Date.now();
        // A step that runs in spite of a cancel (always()) gets its own signal: only its timeout stops it.
        const stepSignal = cancelled ? new AbortController().signal : ctrl.signal;
        emit(o, { type: 'step-start', job: leg.key, step: name, index: step.index });
        const { result, effects } = await runStep(step, name, {
          sandbox,
          tempDir,
          contexts: stepContexts,
          hashFiles,
          env,
          path,
          defaults: leg.defaults,
          workspace: o.workspace,
          labels: run.labels,
          timeoutMs: stepTimeoutMs(stepMinutes, left),
          maxLogBytes: o.maxLogBytesPerStep ?? 65_536,
          onLine: (stream, line) => o.onLog?.(leg.key, name, stream, line),
          signal: stepSignal,
          ...(o.mask ? { mask: o.mask } : {}),
          ...(advisor ? { advise: (script: string) => adviseOn(advisor, script) } : {}),
          ...(o.actionsDir ? { actionsDir: o.actionsDir } : {}),
        });
        ran = effects;
        Object.assign(env, effects.env);
        path.unshift(...effects.path.reverse());
        let coe = false;
        if (step.continueOnError && result.outcome === 'failure') {
          coe = truthy(
            await evaluateTemplate(step.continueOnError, { contexts: stepContexts }).catch(() => false),
          );
        }
        stepResult = {
          ...result,
          conclusion: coe ? 'success' : result.outcome,
        };
      }
      if (stepResult.conclusion === 'failure' || stepResult.conclusion === 'cancelled') failed = true;
      if (step.hasUserId) {
        stepsContext[step.id] = {
          outputs: stepResult.outputs,
          outcome: stepResult.outcome,
          conclusion: stepResult.conclusion,
        };
      }
      const state = { env: { ...env }, path: [...path], steps: { ...stepsContext } };
      stepResult = await endStep(o, {
        legKey: leg.key,
        sandbox,
        step: stepResult,
        ran: ran !== undefined,
        state: {
          ...state,
          workingDirectory: ran?.workingDirectory ?? o.workspace,
          ...(ran?.script !== undefined ? { script: ran.script } : {}),
        },
      });
      steps.push(stepResult);
      emit(o, { type: 'step-end', job: leg.key, step: stepResult });
      if (!sandbox.alive) {
        failed = true;
        error = sandbox.deathError?.message ?? 'the sandbox ended during the job';
        break;
      }
    }
    const outputs = await evaluateStringMap(leg.job.outputs, {
      contexts: { ...contexts, env, steps: stepsContext },
    }).catch(() => ({}));
    // A job past its timeout fails (as on GitHub); one cancelled from outside is cancelled.
    const result = jobTimedOut
      ? 'failure'
      : run.signal.aborted
        ? 'cancelled'
        : failed
          ? 'failure'
          : 'success';
    if (jobTimedOut && !error) error = `the job ran past its timeout (${jobTimeoutMs} ms)`;
    return {
      ...base,
      result,
      outputs,
      steps,
      sandboxId: sandbox.id,
      durationMs: performance.now() - started,
      continueOnError,
      ...(error ? { error } : {}),
    };
  } catch (err) {
    return {
      ...base,
      result: run.signal.aborted ? 'cancelled' : 'failure',
      steps,
      error: toHearthError(err).message,
      durationMs: performance.now() - started,
      continueOnError,
      ...(sandbox ? { sandboxId: sandbox.id } : {}),
    };
  } finally {
    clearTimeout(timer);
    run.signal.removeEventListener('abort', onAbort);
    await sandbox?.release();
  }
}

function emit(o: LegOptions, event: RunEvent): void {
  try {
    o.onEvent?.(event);
  } catch {
    // A listener must not fail the job it watches.
  }
}

/** The step's `name:`, or `Run <first line of its script>`; a name that cannot be evaluated keeps `fallback`. */
async function stepName(step: StepDefinition, fallback: string, opts: EvaluateOptions): Promise<string> {
  try {
    if (step.name) return toText(await evaluateTemplate(step.name, opts));
    if (step.run) return `Run ${toText(await evaluateTemplate(step.run, opts)).split('\n')[0]}`;
  } catch {
    // The step itself reports what is wrong with its expressions.
  }
  return fallback;
}

function stepOf(index: number, id: string, name: string, status: StepStatus, error?: string): StepRunResult {
  return {
    index,
    id,
    name,
    outcome: status,
    conclusion: status,
    exitCode: null,
    timedOut: false,
    outputs: {},
    durationMs: 0,
    log: error ? `${error}\n` : '',
    summary: '',
    ...(error ? { error } : {}),
  };
}

/**
 * A step's time: its own timeout within the job's time left. A step that runs after the job's time
 * is up (an always() cleanup) gets its own timeout, or CLEANUP_TIMEOUT_MS.
 */
function stepTimeoutMs(stepMs: number, leftMs: number): number {
  if (leftMs <= 0) return stepMs > 0 ? stepMs : CLEANUP_TIMEOUT_MS;
  return stepMs > 0 ? Math.min(stepMs, leftMs) : leftMs;
}

/** `timeout-minutes` in ms (fractions allowed, as act takes them); `fallback` when not a positive number. */
function minutes(value: Value, fallbackMs: number): number {
  const n = typeof value === 'number' ? value : Number(toText(value));
  return Number.isFinite(n) && n > 0 ? Math.round(n * 60_000) : fallbackMs;
}
