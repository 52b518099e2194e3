/**
 * An action's metadata file (action.yml / action.yaml) read into a validated shape. The file may come
 * out of the sandbox (a local `uses: ./path` can be written by an earlier step), so everything in it
 * is checked here and a bad file becomes one HearthError naming the file and the problem.
 */
import { parseDocument } from 'yaml';
import { HearthError } from '../../errors/hearth-error.js';
import { conditionExpression } from '../conditions.js';
import type { StepDefinition } from '../model.js';
import { interpolation, literal, type Template } from '../template.js';

export interface ActionInput {
  required: boolean;
  /** `default:`, which may use expressions (`${{ github.token }}`). */
  default?: Template;
}

export type ActionRuns =
  | { using: 'composite'; steps: StepDefinition[] }
  | { using: 'node'; version: string; main: string; pre?: string; post?: string }
  | { using: 'docker'; image: string };

export interface ActionDefinition {
  name: string;
  inputs: Record<string, ActionInput>;
  /** `outputs.<name>.value` (composite actions map their steps' outputs here). */
  outputs: Record<string, Template>;
  runs: ActionRuns;
}

const NODE_VERSIONS = /^node(12|16|20|24)$/;
const ID = /^[A-Za-z_][A-Za-z0-9_-]*$/;

type Plain = null | boolean | number | string | Plain[] | { [key: string]: Plain };

/** Parses and checks an action file's text; `file` is how errors name it. */
export function parseActionFile(file: string, text: string): ActionDefinition {
  const fail = (problem: string) =>
    new HearthError('WORKFLOW_INVALID', `action file ${file}: ${problem}`, { details: { file } });
  const doc = parseDocument(text, { uniqueKeys: true });
  const first = doc.errors[0];
  if (first) throw fail(first.message.split('\n')[0] ?? first.message);
  let root: Plain;
  try {
    root = doc.toJS({ maxAliasCount: 100 }) as Plain;
  } catch (err) {
    throw fail(err instanceof Error ? err.message : String(err));
  }
  if (!isMap(root)) throw fail('the file is not a mapping');
  const runs = root.runs;
  if (!isMap(runs)) throw fail("'runs' is missing or not a mapping");
  const using = typeof runs.using === 'string' ? runs.using.trim().toLowerCase() : '';
  return {
    name: typeof root.name === 'string' ? root.name : file,
    inputs: inputsOf(root.inputs, fail),
    outputs: outputsOf(root.outputs, fail),
    runs: runsOf(using, runs, fail),
  };
}

function runsOf(using: string, runs: { [key: string]: Plain }, fail: (p: string) => HearthError): ActionRuns {
  if (using === 'composite') {
    if (!Array.isArray(runs.steps)) throw fail("'runs.steps' must be a list for a composite action");
    return { using, steps: runs.steps.map((s, i) => compositeStep(s, i, fail)) };
  }
  if (NODE_VERSIONS.test(using)) {
    if (typeof runs.main !== 'string' || runs.main.trim() === '')
      throw fail(`'runs.main' must name the script of a ${using} action`);
    const script = (key: 'pre' | 'post') => (typeof runs[key] === 'string' ? { [key]: runs[key] } : {});
    return { using: 'node', version: using, main: runs.main, ...script('pre'), ...script('post') };
  }
  if (using === 'docker') return { using, image: typeof runs.image === 'string' ? runs.image : '' };
  throw fail(`'runs.using' is '${using}': expected composite, node16, node20 or docker`);
}

function compositeStep(raw: Plain, index: number, fail: (p: string) => HearthError): StepDefinition {
  const where = `runs.steps[${index}]`;
  if (!isMap(raw)) throw fail(`${where} is not a mapping`);
  const run = raw.run;
  const uses = raw.uses;
  if ((run === undefined) === (uses === undefined)) throw fail(`${where} needs exactly one of run or uses`);
  if (uses !== undefined && typeof uses !== 'string') throw fail(`${where}.uses must be a string`);
  if (run !== undefined && typeof run !== 'string') throw fail(`${where}.run must be a string`);
  const id = raw.id;
  if (id !== undefined && (typeof id !== 'string' || !ID.test(id)))
    throw fail(`${where}.id must start with a letter or '_' and hold only letters, digits, '-' and '_'`);
  const cond = raw.if;
  if (cond !== undefined && cond !== null && typeof cond === 'object')
    throw fail(`${where}.if must be a scalar`);
  const opt = (key: string) => (raw[key] === undefined ? undefined : toTemplate(raw[key] as Plain));
  const mapOpt = (key: string) => {
    const v = raw[key];
    if (v !== undefined && v !== null && !isMap(v)) throw fail(`${where}.${key} must be a mapping`);
    return opt(key);
  };
  return {
    index,
    id: typeof id === 'string' ? id : `__composite_${index}`,
    hasUserId: typeof id === 'string',
    name: opt('name'),
    if: conditionExpression(cond === undefined || cond === null ? '' : String(cond)),
    ...(typeof run === 'string' ? { run: interpolation(run) } : {}),
    ...(typeof uses === 'string' ? { uses } : {}),
    with: mapOpt('with'),
    shell: opt('shell'),
    workingDirectory: opt('working-directory'),
    env: mapOpt('env'),
    continueOnError: opt('continue-on-error'),
    timeoutMinutes: opt('timeout-minutes'),
  };
}

function inputsOf(raw: Plain | undefined, fail: (p: string) => HearthError): Record<string, ActionInput> {
  if (raw === undefined || raw === null) return {};
  if (!isMap(raw)) throw fail("'inputs' must be a mapping");
  const out: Record<string, ActionInput> = {};
  for (const [name, spec] of Object.entries(raw)) {
    if (spec !== null && !isMap(spec)) throw fail(`inputs.${name} must be a mapping`);
    const required = spec?.required;
    out[name] = {
      required: required === true || required === 'true',
      ...(spec && spec.default !== undefined ? { default: toTemplate(spec.default) } : {}),
    };
  }
  return out;
}

function outputsOf(raw: Plain | undefined, fail: (p: string) => HearthError): Record<string, Template> {
  if (raw === undefined || raw === null) return {};
  if (!isMap(raw)) throw fail("'outputs' must be a mapping");
  const out: Record<string, Template> = {};
  for (const [name, spec] of Object.entries(raw)) {
    // Node and docker actions declare outputs without a value: their steps set them.
    if (isMap(spec) && spec.value !== undefined) out[name] = toTemplate(spec.value);
  }
  return out;
}

/** A plain YAML value → a Template: strings may hold `${{ }}`, as in a workflow. */
function toTemplate(value: Plain): Template {
  if (typeof value === 'string') return interpolation(value);
  if (Array.isArray(value)) return { kind: 'seq', items: value.map(toTemplate) };
  if (isMap(value)) {
    const entries = Object.entries(value).map(([k, v]) => ({ key: literal(k), value: toTemplate(v) }));
    return { kind: 'map', entries };
  }
  return literal(value);
}

/** INPUT_<NAME> variables: spaces become '_', the name upper-cased, as GitHub's runner sets them. */
export function inputEnv(inputs: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(inputs)) out[`INPUT_${k.replaceAll(' ', '_').toUpperCase()}`] = v;
  return out;
}

function isMap(v: Plain | undefined): v is { [key: string]: Plain } {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v);
}
