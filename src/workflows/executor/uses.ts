/**
 * A `uses:` step: a built-in setup action, a local action read from the workspace inside the
 * sandbox (an earlier step may have written it), or a remote one copied in from the actions
 * directory. Its `with:` becomes the action's inputs; composite and node actions run, docker
 * actions are refused.
 */
import { readFileSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { HearthError, toHearthError } from '../../errors/hearth-error.js';
import type { ManagedSandbox } from '../../sandboxes/managed-sandbox.js';
import type { EvaluateOptions } from '../expressions.js';
import { evaluateString, evaluateStringMap } from '../template.js';
import { type ActionDefinition, parseActionFile } from './action-file.js';
import { ACTION_FILES, actionName, findRemoteAction, parseUses, unavailable } from './actions-dir.js';
import { isBuiltinAction, runBuiltinAction } from './builtin-actions.js';
import { runComposite } from './composite.js';
import type { StepLog } from './log-lines.js';
import { runNodeAction } from './node-action.js';
import type { ActionRun, UsesOutcome, UsesRun } from './step-context.js';
import { copyWorkspace } from './workspace.js';

/** An action file larger than this is refused (real ones are a few KiB). */
const MAX_ACTION_FILE_BYTES = 256 * 1024;
/** Actions inside actions, as deep as GitHub allows composite actions to nest. */
const MAX_ACTION_DEPTH = 10;

/** Remote actions already copied into a sandbox, so a job that uses one twice copies it once. */
const copied = new WeakMap<ManagedSandbox, Set<string>>();

/** Runs a `uses:` step; throws a HearthError (the step's failure) when the action cannot run. */
export async function runUses(r: UsesRun): Promise<UsesOutcome> {
  const { step, ctx, env, log } = r;
  const uses = step.uses ?? '';
  const ref = parseUses(uses);
  const opts: EvaluateOptions = { contexts: { ...ctx.contexts, env }, hashFiles: ctx.hashFiles };
  const given = await evaluateStringMap(step.with, opts);
  if (ref.kind === 'docker')
    throw unavailable(`action '${uses}' is a docker image: hearth does not run docker actions`);
  if (ref.kind === 'remote' && isBuiltinAction(actionName(ref))) {
    const b = await runBuiltinAction(actionName(ref), given, ctx, log);
    const effects = { env: {}, path: [], state: {} };
    return { outcome: b.error ? 'failure' : 'success', effects, ...b };
  }
  if ((ctx.actionDepth ?? 0) >= MAX_ACTION_DEPTH)
    throw invalid(`action '${uses}' is nested more than ${MAX_ACTION_DEPTH} actions deep`);
  let actionDir: string;
  let file: { name: string; text: string };
  if (ref.kind === 'remote') {
    const found = findRemoteAction(ref, ctx.actionsDir ?? process.env.HEARTH_ACTIONS_DIR);
    const root = `${ctx.tempDir}/_actions/${ref.owner}/${ref.repo}@${ref.ref}`;
    const done = copied.get(ctx.sandbox) ?? new Set<string>();
    if (!done.has(root)) {
      await copyWorkspace(ctx.sandbox, found.repoDir, root);
      done.add(root);
      copied.set(ctx.sandbox, done);
    }
    actionDir = ref.path ? `${root}/${ref.path}` : root;
    if (statSync(found.actionFile).size > MAX_ACTION_FILE_BYTES)
      throw invalid(`action file ${found.actionFile} is larger than ${MAX_ACTION_FILE_BYTES} bytes`);
    file = { name: found.actionFile, text: readFileSync(found.actionFile, 'utf8') };
  } else {
    actionDir = posix.join(ctx.workspace, ref.path).replace(/(.)\/+$/, '$1');
    file = await readSandboxActionFile(ctx.sandbox, actionDir, uses);
  }
  const def = parseActionFile(file.name, file.text);
  const inputs = await actionInputs(def, given, opts, uses, log);
  const run: ActionRun = { ...r, uses, def, actionDir, inputs };
  switch (def.runs.using) {
    case 'composite':
      return runComposite(run, def.runs);
    case 'node':
      return runNodeAction(run, def.runs);
    case 'docker':
      throw unavailable(
        `action '${uses}' runs a docker container (runs.using: docker), which hearth does not run`,
      );
  }
}

/** action.yml, else action.yaml, in a folder of the sandbox; bounded, since the guest wrote it. */
async function readSandboxActionFile(
  sandbox: ManagedSandbox,
  dir: string,
  uses: string,
): Promise<{ name: string; text: string }> {
  let why = '';
  for (const name of ACTION_FILES) {
    const path = `${dir}/${name}`;
    try {
      const bytes = await sandbox.readFile(path, { maxBytes: MAX_ACTION_FILE_BYTES });
      return { name: path, text: bytes.toString('utf8') };
    } catch (err) {
      why ||= toHearthError(err).message;
    }
  }
  throw unavailable(`action '${uses}': no action.yml or action.yaml could be read in ${dir} (${why})`);
}

/**
 * The action's inputs: `with:` values by name (case-insensitive, as GitHub matches them), else the
 * input's default; a required input with neither fails the step. Undeclared `with:` keys are kept
 * and noted, as GitHub warns of them.
 */
async function actionInputs(
  def: ActionDefinition,
  given: Record<string, string>,
  opts: EvaluateOptions,
  uses: string,
  log: StepLog,
): Promise<Record<string, string>> {
  const inputs: Record<string, string> = {};
  const used = new Set<string>();
  for (const [name, spec] of Object.entries(def.inputs)) {
    const key = Object.keys(given).find((k) => k.toLowerCase() === name.toLowerCase());
    if (key !== undefined) {
      inputs[name] = given[key] ?? '';
      used.add(key);
    } else if (spec.default) inputs[name] = await evaluateString(spec.default, opts);
    else if (spec.required) throw invalid(`action '${uses}': input '${name}' is required and was not given`);
    else inputs[name] = '';
  }
  for (const [key, value] of Object.entries(given)) {
    if (used.has(key)) continue;
    log.note(`action '${uses}' declares no input '${key}'`);
    inputs[key] = value;
  }
  return inputs;
}

function invalid(message: string): HearthError {
  return new HearthError('WORKFLOW_INVALID', message);
}
