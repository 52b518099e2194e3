/**
 * The setup actions hearth provides itself. actions/checkout is a no-op: the repository is already
 * in the workspace. actions/setup-node and actions/setup-python install nothing: they pass when the
 * image has the tool, say which version it has, and fail when it has none.
 */
import type { StepLog } from './log-lines.js';
import type { StepContext } from './step-context.js';

const TOOLS: Record<string, { argv: string[]; tool: string; input: string; output: string }> = {
  'actions/setup-node': {
    argv: ['node', '--version'],
    tool: 'node',
    input: 'node-version',
    output: 'node-version',
  },
  'actions/setup-python': {
    argv: ['python3', '--version'],
    tool: 'python3',
    input: 'python-version',
    output: 'python-version',
  },
};

/** Whether `name` (lower-cased owner/repo) is provided by hearth. */
export function isBuiltinAction(name: string): boolean {
  return name === 'actions/checkout' || name in TOOLS;
}

/** Runs a built-in action; resolves with the step's outputs, or an error when the image lacks the tool. */
export async function runBuiltinAction(
  name: string,
  inputs: Record<string, string>,
  ctx: StepContext,
  log: StepLog,
): Promise<{ outputs: Record<string, string>; error?: string }> {
  const spec = TOOLS[name];
  if (!spec) {
    log.note(`${name}: the repository is already in the workspace (${ctx.workspace})`);
    return { outputs: {} };
  }
  const run = await ctx.sandbox
    .run({ argv: spec.argv, limits: { timeoutMs: 30_000 } }, {}, ctx.labels)
    .catch(() => undefined);
  const text = `${run?.stdout.toString('utf8') ?? ''}${run?.stderr.toString('utf8') ?? ''}`.slice(0, 200);
  const version = /\d+(?:\.\d+)+/.exec(text)?.[0];
  const asked = inputs[spec.input];
  if (run?.exitCode !== 0 || !version) {
    return { outputs: {}, error: `${name}: the image has no ${spec.tool}, and hearth installs no tools` };
  }
  const wanted = asked ? ` (${spec.input} '${asked}' asked; hearth installs nothing)` : '';
  log.note(`${name}: using the image's ${spec.tool} ${version}${wanted}`);
  return { outputs: { [spec.output]: version } };
}
