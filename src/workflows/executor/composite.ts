/**
 * A composite action's steps, run in the calling step's place. They see the caller's env (its own
 * step `env:` included) and the action's `inputs`, have their own `steps` context, and their
 * GITHUB_ENV / GITHUB_PATH writes reach the caller's later steps, as on GitHub. The caller's step
 * env does not: it ends with the calling step. The action's `outputs.<name>.value` become the
 * calling step's outputs.
 */
import { toHearthError } from '../../errors/hearth-error.js';
import { evaluateCondition, truthy } from '../conditions.js';
import type { Contexts, Value } from '../expressions.js';
import type { StepDefinition } from '../model.js';
import { evaluateString, evaluateTemplate, toText } from '../template.js';
import { type ActionRuns, inputEnv } from './action-file.js';
import type { ActionRun, StepEffects, UsesOutcome } from './step-context.js';
import type { StepStatus } from './types.js';

export async function runComposite(
  a: ActionRun,
  runs: Extract<ActionRuns, { using: 'composite' }>,
): Promise<UsesOutcome> {
  const { ctx, log, step } = a;
  const effects: StepEffects = { env: {}, path: [], state: {} };
  const stepsContext: Record<string, Value> = {};
  const github = { ...asMap(ctx.contexts.github), action_path: a.actionDir };
  const deadline = Date.now() + ctx.timeoutMs;
  let failedStep: string | undefined;
  const contextsNow = (): Contexts => ({
    ...ctx.contexts,
    github,
    inputs: a.inputs,
    steps: stepsContext,
    env: envNow(),
  });
  const envNow = () => ({
    ...a.env,
    ...effects.env,
    ...inputEnv(a.inputs),
    GITHUB_ACTION_PATH: a.actionDir,
  });
  for (const child of runs.steps) {
    const contexts = contextsNow();
    const cancelled = ctx.signal.aborted;
    const failed = failedStep !== undefined;
    const status = { success: !failed, failure: failed, cancelled };
    const name = await childName(child, { contexts });
    let outcome: StepStatus = 'skipped';
    let conclusion: StepStatus = 'skipped';
    let outputs: Record<string, string> = {};
    try {
      if (await evaluateCondition(child.if, { contexts, status, hashFiles: ctx.hashFiles })) {
        const stepMinutes = child.timeoutMinutes
          ? Number(toText(await evaluateTemplate(child.timeoutMinutes, { contexts })))
          : 0;
        const leftMs = Math.max(1, deadline - Date.now());
        const timeoutMs = stepMinutes > 0 ? Math.min(stepMinutes * 60_000, leftMs) : leftMs;
        const run = await a.runStep(child, name, {
          ...ctx,
          tempDir: `${ctx.tempDir}/${step.index}.c`,
          contexts,
          env: envNow(),
          path: [...[...effects.path].reverse(), ...ctx.path],
          defaults: {},
          timeoutMs,
          onLine: (stream, line) => {
            ctx.onLine(stream, line);
            log.keep(line);
          },
          actionDepth: (ctx.actionDepth ?? 0) + 1,
          advise: undefined,
        });
        Object.assign(effects.env, run.effects.env);
        Object.assign(effects.state, run.effects.state);
        effects.path.push(...run.effects.path);
        outcome = run.result.outcome;
        outputs = run.result.outputs;
        const coe =
          outcome === 'failure' && child.continueOnError
            ? truthy(await evaluateTemplate(child.continueOnError, { contexts }).catch(() => false))
            : false;
        conclusion = coe ? 'success' : outcome;
      }
    } catch (err) {
      log.note(`${name}: ${toHearthError(err).message}`);
      outcome = conclusion = 'failure';
    }
    if ((conclusion === 'failure' || conclusion === 'cancelled') && failedStep === undefined)
      failedStep = name;
    if (child.hasUserId) stepsContext[child.id] = { outputs, outcome, conclusion };
    if (!ctx.sandbox.alive) break;
  }
  const outputs: Record<string, string> = {};
  for (const [key, template] of Object.entries(a.def.outputs)) {
    try {
      outputs[key] = await evaluateString(template, { contexts: contextsNow(), hashFiles: ctx.hashFiles });
    } catch (err) {
      log.note(`output '${key}' of action '${a.uses}': ${toHearthError(err).message}`);
      failedStep ??= `output '${key}'`;
    }
  }
  if (ctx.signal.aborted) return { outcome: 'cancelled', outputs, effects };
  if (failedStep === undefined) return { outcome: 'success', outputs, effects };
  return { outcome: 'failure', outputs, effects, error: `action '${a.uses}' failed at '${failedStep}'` };
}

/** A composite step's `name:`, or what it runs. */
async function childName(step: StepDefinition, opts: { contexts: Contexts }): Promise<string> {
  try {
    if (step.name) return toText(await evaluateTemplate(step.name, opts));
    if (step.run) return `Run ${toText(await evaluateTemplate(step.run, opts)).split('\n')[0]}`;
  } catch {
    // The step reports what is wrong with its expressions when it runs.
  }
  return step.uses ? `Run ${step.uses}` : `Run ${step.id}`;
}

function asMap(v: Value | undefined): { [key: string]: Value } {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) ? v : {};
}
