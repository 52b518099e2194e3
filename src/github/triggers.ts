import { parse } from 'yaml';
import { matchesFilterList } from './glob.js';

/** The events whose `on:` filters hearth applies. */
export type TriggerEventName = 'push' | 'pull_request' | 'workflow_dispatch';

/** What a trigger is matched against, taken from a webhook (see events.ts). */
export interface TriggerEvent {
  name: TriggerEventName;
  /** push: the ref pushed (`refs/heads/main`, `refs/tags/v1`); pull_request: the base branch's ref; workflow_dispatch: the ref asked for. */
  ref: string;
  /** pull_request: its action (`opened`, `synchronize`, …). */
  action?: string;
  /** The files the event changed; undefined when unknown, and then paths filters let it through. */
  changedFiles?: readonly string[];
  /** workflow_dispatch: the workflow file asked for (`.github/workflows/ci.yml`). */
  workflowPath?: string;
}

export interface TriggerDecision {
  matched: boolean;
  /** Why not (or which filter let it through), for the delivery's record. */
  reason: string;
}

/** GitHub's default `types` of `pull_request`. */
const DEFAULT_PR_TYPES = ['opened', 'synchronize', 'reopened'];

type Filters = Record<string, unknown>;

class InvalidTrigger extends Error {}

const no = (reason: string): TriggerDecision => ({ matched: false, reason });

/** A filter's patterns: a string or a list of strings; undefined when absent. */
function list(filters: Filters, key: string, eventName: string): string[] | undefined {
  const v = filters[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number'))
    return v.map(String);
  throw new InvalidTrigger(`on.${eventName}.${key} must be a string or a list of strings`);
}

/** `on:` as a map of event name → its filters (null for none). */
function triggersOf(doc: unknown): Map<string, Filters | null> {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new InvalidTrigger('the workflow is not a map');
  const d = doc as Record<string, unknown>;
  // A YAML 1.1 document reads the bare key `on` as the boolean true.
  const on = 'on' in d ? d.on : d.true;
  const out = new Map<string, Filters | null>();
  if (typeof on === 'string') out.set(on, null);
  else if (Array.isArray(on)) for (const e of on) out.set(String(e), null);
  else if (on && typeof on === 'object') {
    for (const [k, v] of Object.entries(on)) {
      if (v !== null && v !== undefined && (typeof v !== 'object' || Array.isArray(v)))
        throw new InvalidTrigger(`on.${k} must be a map of filters`);
      out.set(k, (v as Filters | null | undefined) ?? null);
    }
  } else throw new InvalidTrigger('the workflow has no `on:`');
  return out;
}

/** `paths` / `paths-ignore` against the changed files (GitHub does not apply them to tags). */
function pathsPass(filters: Filters, name: string, files: readonly string[] | undefined): TriggerDecision {
  const paths = list(filters, 'paths', name);
  const ignore = list(filters, 'paths-ignore', name);
  if (paths && ignore) throw new InvalidTrigger(`on.${name} cannot have both paths and paths-ignore`);
  if (!paths && !ignore) return { matched: true, reason: 'no paths filter' };
  if (!files) return { matched: true, reason: 'the changed files are unknown, so paths filters pass' };
  if (paths) {
    return files.some((f) => matchesFilterList(f, paths))
      ? { matched: true, reason: 'a changed file matches paths' }
      : no('no changed file matches paths');
  }
  return files.some((f) => !matchesFilterList(f, ignore ?? []))
    ? { matched: true, reason: 'a changed file is outside paths-ignore' }
    : no('every changed file matches paths-ignore');
}

/** An include filter and its `-ignore` twin on one name; undefined when neither is set. */
function refPass(filters: Filters, event: string, key: string, value: string): boolean | undefined {
  const include = list(filters, key, event);
  const ignore = list(filters, `${key}-ignore`, event);
  if (include && ignore) throw new InvalidTrigger(`on.${event} cannot have both ${key} and ${key}-ignore`);
  if (include) return matchesFilterList(value, include);
  if (ignore) return !matchesFilterList(value, ignore);
  return undefined;
}

function pushMatches(filters: Filters, e: TriggerEvent): TriggerDecision {
  const tag = e.ref.startsWith('refs/tags/');
  const branch = e.ref.startsWith('refs/heads/');
  if (!tag && !branch) return no(`the ref ${e.ref} is neither a branch nor a tag`);
  const name = e.ref.replace(/^refs\/(heads|tags)\//, '');
  const branches = refPass(filters, 'push', 'branches', name);
  const tags = refPass(filters, 'push', 'tags', name);
  // With only tag filters a branch push does not run, and the other way round.
  if (branch) {
    if (branches === false || (branches === undefined && tags !== undefined))
      return no(`the branch ${name} is filtered out by on.push`);
  } else {
    if (tags === false || (tags === undefined && branches !== undefined))
      return no(`the tag ${name} is filtered out by on.push`);
    return { matched: true, reason: 'the tag passes on.push' };
  }
  return pathsPass(filters, 'push', e.changedFiles);
}

function pullRequestMatches(filters: Filters, e: TriggerEvent): TriggerDecision {
  const types = list(filters, 'types', 'pull_request') ?? DEFAULT_PR_TYPES;
  if (!e.action || !types.includes(e.action))
    return no(`the pull_request action ${e.action ?? '(none)'} is not in types [${types.join(', ')}]`);
  const base = e.ref.replace(/^refs\/heads\//, '');
  if (refPass(filters, 'pull_request', 'branches', base) === false)
    return no(`the base branch ${base} is filtered out by on.pull_request`);
  return pathsPass(filters, 'pull_request', e.changedFiles);
}

/**
 * Does this workflow run for this event, by its `on:` filters. Reads the YAML itself (only `on:`),
 * so it takes the text of any workflow file; an invalid workflow does not run, and says why.
 */
export function triggersFor(
  workflowYaml: string,
  event: TriggerEvent,
  workflowPath?: string,
): TriggerDecision {
  try {
    const triggers = triggersOf(parse(workflowYaml, { maxAliasCount: 100 }));
    if (!triggers.has(event.name)) return no(`the workflow is not triggered by ${event.name}`);
    const filters = triggers.get(event.name) ?? {};
    if (event.name === 'push') return pushMatches(filters, event);
    if (event.name === 'pull_request') return pullRequestMatches(filters, event);
    return event.workflowPath === workflowPath
      ? { matched: true, reason: 'dispatched by name' }
      : no(`workflow_dispatch asked for ${event.workflowPath ?? '(none)'}`);
  } catch (err) {
    return no(`invalid workflow: ${(err as Error).message.split('\n')[0]}`);
  }
}
