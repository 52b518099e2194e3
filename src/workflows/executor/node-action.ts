/**
 * A node action (`runs.using: node16/node20`): `node <main>` in the sandbox with the action's
 * INPUT_* variables and the runner files, after `node <pre>` when it has one (its GITHUB_STATE
 * reaches main as STATE_*). The sandbox's own node runs it, whatever version the action names.
 * A `post` script would have to run when the job ends, which hearth does not do: such an action is
 * refused rather than run without its cleanup.
 */
import { posix } from 'node:path';
import { type ActionRuns, inputEnv } from './action-file.js';
import { unavailable } from './actions-dir.js';
import type { ActionRun, StepEffects, UsesOutcome } from './step-context.js';
import { execWithRunnerFiles } from './step-exec.js';

export async function runNodeAction(
  a: ActionRun,
  runs: Extract<ActionRuns, { using: 'node' }>,
): Promise<UsesOutcome> {
  const { ctx, log } = a;
  if (runs.post !== undefined) {
    throw unavailable(
      `action '${a.uses}' has a post script (runs.post: ${runs.post}), which hearth does not run; use a composite action or one without post`,
    );
  }
  log.note(`${a.uses}: runs.using ${runs.version}, run with the image's node`);
  const env = { ...a.env, ...inputEnv(a.inputs), GITHUB_ACTION_PATH: a.actionDir };
  const dir = `${ctx.tempDir}/${a.step.index}`;
  const deadline = Date.now() + ctx.timeoutMs;
  const effects: StepEffects = { env: {}, path: [], state: {} };
  const outputs: Record<string, string> = {};
  let summary = '';
  const phases: Array<[string, string]> = runs.pre
    ? [
        ['pre', runs.pre],
        ['main', runs.main],
      ]
    : [['main', runs.main]];
  for (const [phase, script] of phases) {
    await ctx.sandbox.mkdir(`${dir}/${phase}`, { recursive: true });
    const state: Record<string, string> = {};
    for (const [k, v] of Object.entries(effects.state)) state[`STATE_${k}`] = v;
    const out = await execWithRunnerFiles(
      { ...ctx, timeoutMs: Math.max(1, deadline - Date.now()) },
      log,
      a.commands,
      {
        argv: ['node', posix.join(a.actionDir, script)],
        env: { ...env, ...effects.env, ...state },
        cwd: ctx.workspace,
        dir: `${dir}/${phase}`,
      },
    );
    Object.assign(effects.env, out.effects.env);
    Object.assign(effects.state, out.effects.state);
    effects.path.push(...out.effects.path);
    Object.assign(outputs, out.outputs);
    summary += out.summary;
    const ok = out.exitCode === 0 && !out.timedOut && !out.cancelled;
    if (!ok) {
      const outcome = out.cancelled ? 'cancelled' : 'failure';
      if (phase === 'pre') log.note(`${a.uses}: the pre script ${script} failed, main did not run`);
      return { outcome, outputs, effects, exitCode: out.exitCode, timedOut: out.timedOut, summary };
    }
  }
  return { outcome: 'success', outputs, effects, exitCode: 0, timedOut: false, summary };
}
