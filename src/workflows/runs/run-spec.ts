/**
 * A run request as its record (what a retry runs again) and the contexts a recorded run is given
 * back: the event, inputs and vars it had, and the secrets handed in anew.
 */
import type { WorkflowRunSpec } from '../../store/workflow-run-store.js';
import type { ExecuteOptions } from '../executor/types.js';
import type { Contexts, Value } from '../expressions.js';
import type { Workflow } from '../model.js';

/** What the executor takes from the caller unchanged (live output, cancel, masking, advice). */
export type RunPassThrough = Partial<
  Pick<
    ExecuteOptions,
    | 'env'
    | 'onLog'
    | 'onEvent'
    | 'signal'
    | 'mask'
    | 'advisor'
    | 'maxParallelLegs'
    | 'matrixFilter'
    | 'actionsDir'
  >
>;

/** What a run runs: the record keeps all of it but the secrets' values and the pass-through. */
export interface RunRequest
  extends Partial<Omit<WorkflowRunSpec, 'workflowContent' | 'secretNames'>>,
    RunPassThrough {
  workflowContent: string;
  /** The workflow already parsed from `workflowContent`. */
  parsed?: Workflow;
  secrets?: Record<string, string>;
  /** The contexts as the caller built them; @default built from event, inputs, vars and secrets */
  contexts?: Contexts;
  /** @default 'every-step' */
  snapshots?: 'every-step' | 'none';
}

export function runRecordTimes(id: string, now: number) {
  return { id, createdAtMs: now, startedAtMs: now };
}

/** The record of a request; with caller-built contexts, the event, inputs, vars and secret names come from them. */
export function specOf(req: RunRequest): WorkflowRunSpec {
  const c = req.contexts ?? {};
  const github = isMap(c.github) ? c.github : {};
  return {
    workflow: req.workflow ?? req.workflowPath ?? 'workflow',
    workflowPath: req.workflowPath ?? null,
    workflowContent: req.workflowContent,
    repositoryDir: req.repositoryDir ?? null,
    repository:
      req.repository ?? (typeof github.repository === 'string' ? github.repository : 'local/repository'),
    event: req.event ?? (typeof github.event_name === 'string' ? github.event_name : 'push'),
    eventPayload: req.eventPayload ?? github.event ?? {},
    inputs: req.inputs ?? strings(c.inputs),
    vars: req.vars ?? strings(c.vars),
    secretNames: Object.keys(req.secrets ?? (isMap(c.secrets) ? c.secrets : {})),
    backend: req.backend ?? null,
    image: req.image ?? 'default',
    snapshots: req.snapshots ?? 'every-step',
  };
}

export function isMap(v: Value | undefined): v is { [key: string]: Value } {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v);
}

/** A context's values as text (inputs may be booleans or numbers). */
export function strings(v: Value | undefined): Record<string, string> {
  if (!isMap(v)) return {};
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [k, typeof x === 'string' ? x : JSON.stringify(x)]),
  );
}

/** The contexts a recorded run ran with: its event, inputs and vars, and the secrets given now. */
export function contextsFor(spec: WorkflowRunSpec, secrets: Record<string, string>) {
  return {
    github: {
      event_name: spec.event,
      event: (spec.eventPayload ?? {}) as Value,
      repository: spec.repository,
    },
    inputs: spec.inputs,
    vars: spec.vars,
    secrets,
  };
}

/** The pass-through options that are set (exactOptionalPropertyTypes keeps undefined out). */
export function passThrough(r: RunPassThrough): RunPassThrough {
  const keys = [
    'env',
    'onLog',
    'onEvent',
    'signal',
    'mask',
    'advisor',
    'maxParallelLegs',
    'matrixFilter',
    'actionsDir',
  ] as const;
  const out: Record<string, unknown> = {};
  for (const k of keys) if (r[k] !== undefined) out[k] = r[k];
  return out as RunPassThrough;
}
