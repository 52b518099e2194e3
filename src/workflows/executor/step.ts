/**
 * One step in the job's sandbox: `run:` through its shell with the runner's files (GITHUB_ENV,
 * GITHUB_OUTPUT, GITHUB_PATH, GITHUB_STEP_SUMMARY, GITHUB_STATE), or a `uses:` action (uses.ts).
 */
import { performance } from 'node:perf_hooks';
import { toHearthError } from '../../errors/hearth-error.js';
import type { StepDefinition } from '../model.js';
import { shellArgv, shellCommand } from '../shells.js';
import { evaluateString, evaluateStringMap } from '../template.js';
import { WorkflowCommands } from './commands.js';
import { StepLog } from './log-lines.js';
import type { StepContext, StepEffects, StepRun } from './step-context.js';
import { execWithRunnerFiles } from './step-exec.js';
import type { StepAdvice, StepRunResult, StepStatus } from './types.js';
import { runUses } from './uses.js';

/** Runs a step whose `if:` passed. Never throws: every failure is the step's result. */
export async function runStep(step: StepDefinition, name: string, ctx: StepContext): Promise<StepRun> {
  const started = performance.now();
  const mask = ctx.mask;
  const commands = new WorkflowCommands({
    allowUnsecure: false,
    ...(mask ? { onMask: (v: string) => mask.add(v) } : {}),
  });
  const log: StepLog = new StepLog(ctx.maxLogBytes, ctx.onLine, {
    onRaw: (line) => {
      const refused = commands.line(line);
      if (refused) queueMicrotask(() => log.note(refused));
    },
    ...(mask ? { mask: (line: string) => mask.apply(line) } : {}),
  });
  let effects: StepEffects = { env: {}, path: [], state: {} };
  const base = { index: step.index, id: step.id, name, outputs: {}, summary: '' };
  let advice: StepAdvice | undefined;
  const finish = (outcome: StepStatus, extra: Partial<StepRunResult> = {}) => ({
    result: {
      ...base,
      ...(advice ? { advice } : {}),
      outcome,
      exitCode: null,
      timedOut: false,
      ...extra,
      durationMs: performance.now() - started,
      log: log.end(),
    },
    effects,
  });
  const opts = { contexts: ctx.contexts, hashFiles: ctx.hashFiles };
  try {
    const env = { ...ctx.env };
    const stepEnv = await evaluateStringMap(step.env, { ...opts, contexts: { ...ctx.contexts, env } });
    Object.assign(env, stepEnv);
    commands.allowUnsecure = env.ACTIONS_ALLOW_UNSECURE_COMMANDS === 'true';
    if (step.uses !== undefined) {
      const out = await runUses({ step, ctx, env, log, commands, runStep });
      effects = out.effects;
      if (out.error) log.note(out.error);
      const { outcome, outputs, exitCode = null, timedOut = false, summary = '', error } = out;
      return finish(outcome, { outputs, exitCode, timedOut, summary, ...(error ? { error } : {}) });
    }
    const script = step.run
      ? await evaluateString(step.run, { ...opts, contexts: { ...ctx.contexts, env } })
      : '';
    if (step.run && ctx.advise) advice = await ctx.advise(script);
    const shellText = step.shell ?? ctx.defaults.shell;
    const shell = shellCommand(shellText ? await evaluateString(shellText, opts) : undefined);
    const wdText = step.workingDirectory ?? ctx.defaults.workingDirectory;
    const wd = wdText ? await evaluateString(wdText, opts) : '';
    const dir = `${ctx.tempDir}/${step.index}`;
    await ctx.sandbox.mkdir(dir, { recursive: true });
    const scriptPath = `${dir}/script${shell.extension}`;
    const cwd = wd === '' ? ctx.workspace : wd.startsWith('/') ? wd : `${ctx.workspace}/${wd}`;
    const out = await execWithRunnerFiles(ctx, log, commands, {
      argv: shellArgv(shell, scriptPath),
      env,
      cwd,
      dir,
      script: { path: scriptPath, text: script },
      // The knowledge graph learns a shell step's commands, not the shell that reads them from a file.
      ...(shell.extension === '.sh' ? { learnScript: script } : {}),
    });
    effects = { ...out.effects, script, workingDirectory: cwd };
    const ok = out.exitCode === 0 && !out.timedOut && !out.cancelled;
    return finish(out.cancelled ? 'cancelled' : ok ? 'success' : 'failure', {
      exitCode: out.exitCode,
      timedOut: out.timedOut,
      outputs: out.outputs,
      summary: out.summary,
    });
  } catch (err) {
    const error = toHearthError(err).message;
    log.note(error);
    return finish(ctx.signal.aborted ? 'cancelled' : 'failure', { error });
  }
}
