/**
 * One step in the job's sandbox: `run:` through its shell with the runner's files (GITHUB_ENV,
 * GITHUB_OUTPUT, GITHUB_PATH, GITHUB_STEP_SUMMARY, GITHUB_STATE), or a `uses:` that hearth provides.
 */
import { performance } from 'node:perf_hooks';
import { toHearthError } from '../../errors/hearth-error.js';
import type { ManagedSandbox } from '../../sandboxes/managed-sandbox.js';
import type { Contexts, HashFiles } from '../expressions.js';
import type { RunDefaults, StepDefinition } from '../model.js';
import { shellArgv, shellCommand } from '../shells.js';
import { evaluateString, evaluateStringMap } from '../template.js';
import { WorkflowCommands } from './commands.js';
import { parseEnvFile, parsePathFile } from './env-files.js';
import { StepLog } from './log-lines.js';
import type { SecretMask } from './mask.js';
import type { LogStream, StepAdvice, StepRunResult, StepStatus } from './types.js';

/** Runner files a step may write; what it writes past this is not read. */
const MAX_FILE_BYTES = 1024 * 1024;
const BUILT_IN_ACTIONS = new Set(['actions/checkout']);
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface StepContext {
  sandbox: ManagedSandbox;
  /** The leg's private directory in the sandbox for scripts and runner files. */
  tempDir: string;
  contexts: Contexts;
  hashFiles: HashFiles;
  /** The env the step sees before its own `env:` (workflow, job, GITHUB_ENV), evaluated. */
  env: Record<string, string>;
  /** Directories added by GITHUB_PATH, newest first. */
  path: string[];
  defaults: RunDefaults;
  workspace: string;
  labels: Record<string, string>;
  /** The most the step may run, from its timeout-minutes and the job's time left. */
  timeoutMs: number;
  maxLogBytes: number;
  onLine: (stream: LogStream, line: string) => void;
  /** Hides the run's secrets and `::add-mask::` values from the step's log (live and kept). */
  mask?: SecretMask;
  signal: AbortSignal;
  /** Asked with a `run:` step's script, as evaluated, before it runs: the knowledge graph's advice. */
  advise?: (script: string) => Promise<StepAdvice | undefined>;
}

export interface StepEffects {
  env: Record<string, string>;
  path: string[];
  state: Record<string, string>;
  /** Where the step ran and what (a `run:` step's script as evaluated), for a shell opened at it later. */
  workingDirectory?: string;
  script?: string;
}

/** Runs a step whose `if:` passed. Never throws: every failure is the step's result. */
export async function runStep(
  step: StepDefinition,
  name: string,
  ctx: StepContext,
): Promise<{ result: Omit<StepRunResult, 'conclusion'>; effects: StepEffects }> {
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
  const effects: StepEffects = { env: {}, path: [], state: {} };
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
      const action = step.uses.split('@')[0] ?? step.uses;
      if (BUILT_IN_ACTIONS.has(action)) return finish('success');
      const error = `action '${step.uses}' is not available: hearth runs run: steps and the built-in actions/checkout only`;
      log.note(error);
      return finish('failure', { error });
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
    const files = {
      GITHUB_ENV: `${dir}/env`,
      GITHUB_OUTPUT: `${dir}/output`,
      GITHUB_PATH: `${dir}/path`,
      GITHUB_STEP_SUMMARY: `${dir}/summary`,
      GITHUB_STATE: `${dir}/state`,
    };
    for (const f of Object.values(files)) await ctx.sandbox.writeFile(f, '');
    const scriptPath = `${dir}/script${shell.extension}`;
    await ctx.sandbox.writeFile(scriptPath, script, { mode: 0o755 });
    const fullEnv: Record<string, string> = { ...env, ...files };
    if (ctx.path.length > 0) fullEnv.PATH = [...ctx.path, env.PATH ?? DEFAULT_PATH].join(':');
    effects.script = script;
    effects.workingDirectory = wd === '' ? ctx.workspace : wd.startsWith('/') ? wd : `${ctx.workspace}/${wd}`;
    const handle = ctx.sandbox.exec(
      {
        argv: shellArgv(shell, scriptPath),
        env: fullEnv,
        cwd: effects.workingDirectory,
        limits: { timeoutMs: Math.max(1, ctx.timeoutMs) },
      },
      { onStdout: (c) => log.write('stdout', c), onStderr: (c) => log.write('stderr', c) },
      ctx.labels,
      // The knowledge graph learns a shell step's commands, not the shell that reads them from a file.
      shell.extension === '.sh' ? { script } : {},
    );
    const kill = () => void handle.kill().catch(() => {});
    ctx.signal.addEventListener('abort', kill, { once: true });
    let exit: Awaited<typeof handle.exit>;
    try {
      exit = await handle.exit;
    } finally {
      ctx.signal.removeEventListener('abort', kill);
    }
    const read = async (path: string) =>
      (await ctx.sandbox.readFile(path, { maxBytes: MAX_FILE_BYTES }).catch(() => Buffer.alloc(0))).toString(
        'utf8',
      );
    const outputs = parseEnvFile(await read(files.GITHUB_OUTPUT));
    const envFile = parseEnvFile(await read(files.GITHUB_ENV));
    const state = parseEnvFile(await read(files.GITHUB_STATE));
    for (const p of [...outputs.problems, ...envFile.problems, ...state.problems])
      log.note(`runner file: ${p}`);
    effects.env = { ...commands.env, ...envFile.values };
    effects.state = state.values;
    effects.path = [...commands.path, ...parsePathFile(await read(files.GITHUB_PATH))];
    const summary = await read(files.GITHUB_STEP_SUMMARY);
    const cancelled = ctx.signal.aborted;
    const ok = exit.exitCode === 0 && !exit.timedOut && !cancelled;
    if (exit.timedOut) log.note(`the step ran past its time limit (${ctx.timeoutMs} ms) and was stopped`);
    return finish(cancelled ? 'cancelled' : ok ? 'success' : 'failure', {
      exitCode: exit.exitCode,
      timedOut: exit.timedOut,
      outputs: { ...commands.outputs, ...outputs.values },
      summary: mask ? mask.apply(summary) : summary,
    });
  } catch (err) {
    const error = toHearthError(err).message;
    log.note(error);
    return finish(ctx.signal.aborted ? 'cancelled' : 'failure', { error });
  }
}
