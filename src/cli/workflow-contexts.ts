/**
 * The contexts a `hearth workflow run` gives each workflow, from its flags and files: `secrets`
 * (added to the run's mask at once), `vars`, `inputs`, and `github` (the event, its payload, and the
 * repository's commit and branch when it is a git checkout), plus the env every step gets.
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { Contexts, Value } from '../workflows/expressions.js';
import type { SecretMask } from '../workflows/index.js';
import {
  eventPayload,
  inputsContext,
  pairs,
  parseDotenv,
  readUserFile,
  secretFlags,
} from './workflow-inputs.js';
import type { LoadedWorkflow } from './workflow-select.js';

/** The flags this reads (a part of WorkflowRunFlags). */
export interface ContextFlags {
  eventpath?: string;
  secret: string[];
  secretFile?: string;
  var: string[];
  varFile?: string;
  envFile?: string;
  input: string[];
}

export interface PreparedRun {
  w: LoadedWorkflow;
  contexts: Contexts;
}

/** Reads the flags once; then each workflow's contexts (its inputs are typed by its own `on:`). */
export function prepareRuns(o: {
  flags: ContextFlags;
  workflows: LoadedWorkflow[];
  event: string;
  repoDir: string;
  env: NodeJS.ProcessEnv;
  mask: SecretMask;
  /** Told of a required input left without a value (act runs the workflow anyway, and so does hearth). */
  warn: (message: string) => void;
}): { runs: PreparedRun[]; runEnv: Record<string, string> } {
  const { flags: f, event, repoDir } = o;
  // act's defaults: .secrets, .vars and .env in the repository when present.
  const dotenv = (path: string | undefined, fallback: string, flag: string) => {
    const file = path ? resolve(path) : join(repoDir, fallback);
    const text = readUserFile(file, flag, path === undefined);
    return text === undefined ? {} : parseDotenv(text, file);
  };
  const secrets = { ...dotenv(f.secretFile, '.secrets', '--secret-file'), ...secretFlags(f.secret, o.env) };
  o.mask.addAll(secrets);
  const vars = { ...dotenv(f.varFile, '.vars', '--var-file'), ...pairs(f.var, '--var') };
  const runEnv = dotenv(f.envFile, '.env', '--env-file');
  const payload = eventPayload(f.eventpath);
  const given = pairs(f.input, '--input');
  const git = gitContext(repoDir);
  const runs = o.workflows.map((w) => {
    const declared = (w.workflow.on[event] as { inputs?: unknown } | null | undefined)?.inputs;
    const fromEvent = isRecord(payload.inputs) ? payload.inputs : {};
    const inputs = inputsContext(declared, given, fromEvent);
    for (const name of requiredMissing(declared, { ...fromEvent, ...given }))
      o.warn(`${w.file}: the required input '${name}' has no value (give --input ${name}=…)`);
    // act hands --input to the workflow as github.event.inputs too.
    const eventValue: Record<string, Value> = { ...(payload as Record<string, Value>) };
    if (Object.keys(inputs).length > 0) eventValue.inputs = stringsOf(inputs);
    const github: Record<string, Value> = {
      ...git,
      event_name: event,
      event: eventValue,
      ...(typeof payload.ref === 'string' ? { ref: payload.ref } : {}),
    };
    return { w, contexts: { github, secrets, vars, inputs } };
  });
  return { runs, runEnv };
}

/** github.sha, ref and ref_name of a git checkout (as act reads them); nothing when it is not one. */
function gitContext(dir: string): Record<string, string> {
  const git = (...args: string[]) => {
    try {
      const out = execFileSync('git', ['-C', dir, ...args], {
        encoding: 'utf8',
        timeout: 5000,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      return out.trim() || undefined;
    } catch {
      return undefined;
    }
  };
  const sha = git('rev-parse', '--verify', '-q', 'HEAD');
  const ref = git('symbolic-ref', '-q', 'HEAD');
  return {
    ...(sha ? { sha } : {}),
    ...(ref ? { ref, ref_name: ref.replace(/^refs\/(heads|tags)\//, '') } : {}),
  };
}

/** Declared inputs marked required that neither the event, --input nor a default gives. */
function requiredMissing(declared: unknown, given: Record<string, unknown>): string[] {
  if (!isRecord(declared)) return [];
  return Object.entries(declared)
    .filter(([, spec]) => isRecord(spec) && spec.required === true && spec.default === undefined)
    .map(([name]) => name)
    .filter((name) => given[name] === undefined);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function stringsOf(values: Record<string, string | number | boolean>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]));
}
