import { HearthError } from '../errors/hearth-error.js';
import type { TriggerEvent } from './triggers.js';

/** A delivery that may start workflows: what to fetch and what the `on:` filters are matched against. */
export interface RunnableEvent {
  trigger: TriggerEvent;
  /** `owner/name`. */
  repository: string;
  /** The ref the run is for (GITHUB_REF): the pushed ref, `refs/pull/<n>/head`, the dispatched ref. */
  ref: string;
  /** The commit to run; undefined for workflow_dispatch, whose payload names only a ref. */
  sha?: string;
  /** A pull request's base commit: its changed files are the diff from there. */
  baseSha?: string;
}

export type Routing =
  | { kind: 'ping' }
  | { kind: 'ignored'; reason: string }
  | { kind: 'runnable'; event: RunnableEvent };

const REPO_NAME = /^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/;
const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const REF = /^refs\/[A-Za-z0-9_./+@-]{1,250}$/;
const ZERO_SHA = /^0+$/;
const MAX_CHANGED_FILES = 10_000;

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function bad(message: string): never {
  throw new HearthError('BAD_REQUEST', `the webhook payload is not usable: ${message}`, {
    hint: 'The payload must be the one GitHub sends for this X-GitHub-Event.',
  });
}

function repositoryOf(payload: Obj): string {
  const name = str(obj(payload.repository).full_name);
  if (!name || !REPO_NAME.test(name) || name.split('/').some((p) => p === '.' || p === '..'))
    bad('repository.full_name is missing or not owner/name');
  return name;
}

function shaOf(v: unknown, field: string): string {
  const s = str(v);
  if (!s || !SHA.test(s)) bad(`${field} is not a commit id`);
  return s;
}

function refOf(v: unknown, field: string): string {
  const s = str(v);
  if (!s || !REF.test(s) || s.includes('..')) bad(`${field} is not a full ref name`);
  return s;
}

/** The files a push changed, from the commits it lists (GitHub lists each commit's added, modified, removed). */
function pushedFiles(payload: Obj): string[] | undefined {
  if (!Array.isArray(payload.commits)) return undefined;
  const files = new Set<string>();
  for (const c of payload.commits) {
    for (const key of ['added', 'modified', 'removed']) {
      const list = obj(c)[key];
      if (!Array.isArray(list)) continue;
      for (const f of list) if (typeof f === 'string') files.add(f);
      // Past this the list is no base for a decision: paths filters then let it through.
      if (files.size > MAX_CHANGED_FILES) return undefined;
    }
  }
  return [...files];
}

/**
 * Decides what a delivery is from its X-GitHub-Event and payload: a ping, an event hearth does not
 * run workflows for (and why), or a push / pull_request / workflow_dispatch with what it names.
 * A payload missing the fields of its event is refused (400).
 */
export function routeEvent(eventName: string, payloadValue: unknown): Routing {
  const payload = obj(payloadValue);
  if (eventName === 'ping') return { kind: 'ping' };
  if (eventName === 'push') {
    const ref = refOf(payload.ref, 'ref');
    if (payload.deleted === true || ZERO_SHA.test(str(payload.after) ?? ''))
      return { kind: 'ignored', reason: `${ref} was deleted` };
    const changedFiles = pushedFiles(payload);
    return {
      kind: 'runnable',
      event: {
        trigger: { name: 'push', ref, ...(changedFiles ? { changedFiles } : {}) },
        repository: repositoryOf(payload),
        ref,
        sha: shaOf(payload.after, 'after'),
      },
    };
  }
  if (eventName === 'pull_request') {
    const pr = obj(payload.pull_request);
    const action = str(payload.action) ?? bad('action is missing');
    const number = pr.number ?? payload.number;
    if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 1)
      bad('the pull request number is missing');
    return {
      kind: 'runnable',
      event: {
        trigger: {
          name: 'pull_request',
          action,
          ref: refOf(`refs/heads/${str(obj(pr.base).ref)}`, 'pull_request.base.ref'),
        },
        repository: repositoryOf(payload),
        ref: `refs/pull/${number}/head`,
        sha: shaOf(obj(pr.head).sha, 'pull_request.head.sha'),
        baseSha: shaOf(obj(pr.base).sha, 'pull_request.base.sha'),
      },
    };
  }
  if (eventName === 'workflow_dispatch') {
    const raw = str(payload.ref) ?? bad('ref is missing');
    const ref = refOf(raw.startsWith('refs/') ? raw : `refs/heads/${raw}`, 'ref');
    const workflow = str(payload.workflow) ?? bad('workflow is missing');
    return {
      kind: 'runnable',
      event: {
        trigger: { name: 'workflow_dispatch', ref, workflowPath: workflow },
        repository: repositoryOf(payload),
        ref,
      },
    };
  }
  return { kind: 'ignored', reason: `hearth runs no workflows for ${eventName} events` };
}
