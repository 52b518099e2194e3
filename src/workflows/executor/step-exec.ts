/**
 * One process of a step in the sandbox with the runner's files (GITHUB_ENV, GITHUB_OUTPUT,
 * GITHUB_PATH, GITHUB_STEP_SUMMARY, GITHUB_STATE) around it: a `run:` script, or a node action's
 * script. What the process writes to those files comes back bounded and parsed, never thrown.
 */
import type { WorkflowCommands } from './commands.js';
import { parseEnvFile, parsePathFile } from './env-files.js';
import type { StepLog } from './log-lines.js';
import type { StepContext, StepEffects } from './step-context.js';

/** Runner files a step may write; what it writes past this is not read. */
const MAX_FILE_BYTES = 1024 * 1024;
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ExecSpec {
  argv: string[];
  /** The step's env (runner files and PATH are added). */
  env: Record<string, string>;
  cwd: string;
  /** A private directory in the sandbox for the runner files. */
  dir: string;
  /** A script file to write (mode 0755) with the runner files, before the process starts. */
  script?: { path: string; text: string };
  /** Given for a shell script, which the knowledge graph learns from. */
  learnScript?: string;
}

export interface ExecOutcome {
  exitCode: number | null;
  timedOut: boolean;
  cancelled: boolean;
  outputs: Record<string, string>;
  effects: StepEffects;
  summary: string;
}

export async function execWithRunnerFiles(
  ctx: StepContext,
  log: StepLog,
  commands: WorkflowCommands,
  spec: ExecSpec,
): Promise<ExecOutcome> {
  const files = {
    GITHUB_ENV: `${spec.dir}/env`,
    GITHUB_OUTPUT: `${spec.dir}/output`,
    GITHUB_PATH: `${spec.dir}/path`,
    GITHUB_STEP_SUMMARY: `${spec.dir}/summary`,
    GITHUB_STATE: `${spec.dir}/state`,
  };
  // The agent answers requests concurrently: the files are created at once, not one round trip each.
  await Promise.all([
    ...Object.values(files).map((f) => ctx.sandbox.writeFile(f, '')),
    ...(spec.script ? [ctx.sandbox.writeFile(spec.script.path, spec.script.text, { mode: 0o755 })] : []),
  ]);
  const fullEnv: Record<string, string> = { ...spec.env, ...files };
  if (ctx.path.length > 0) fullEnv.PATH = [...ctx.path, spec.env.PATH ?? DEFAULT_PATH].join(':');
  const handle = ctx.sandbox.exec(
    { argv: spec.argv, env: fullEnv, cwd: spec.cwd, limits: { timeoutMs: Math.max(1, ctx.timeoutMs) } },
    { onStdout: (c) => log.write('stdout', c), onStderr: (c) => log.write('stderr', c) },
    ctx.labels,
    spec.learnScript !== undefined ? { script: spec.learnScript } : {},
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
  const [outputText, envText, stateText, pathText, summary] = await Promise.all(
    [
      files.GITHUB_OUTPUT,
      files.GITHUB_ENV,
      files.GITHUB_STATE,
      files.GITHUB_PATH,
      files.GITHUB_STEP_SUMMARY,
    ].map(read),
  );
  const outputs = parseEnvFile(outputText ?? '');
  const envFile = parseEnvFile(envText ?? '');
  const state = parseEnvFile(stateText ?? '');
  for (const p of [...outputs.problems, ...envFile.problems, ...state.problems])
    log.note(`runner file: ${p}`);
  if (exit.timedOut) log.note(`the step ran past its time limit (${ctx.timeoutMs} ms) and was stopped`);
  return {
    exitCode: exit.exitCode,
    timedOut: exit.timedOut,
    cancelled: ctx.signal.aborted,
    outputs: { ...commands.outputs, ...outputs.values },
    effects: {
      env: { ...commands.env, ...envFile.values },
      path: [...commands.path, ...parsePathFile(pathText ?? '')],
      state: state.values,
    },
    summary: ctx.mask ? ctx.mask.apply(summary ?? '') : (summary ?? ''),
  };
}
