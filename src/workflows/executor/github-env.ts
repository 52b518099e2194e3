/**
 * The github context's derived fields and the GITHUB_* / RUNNER_* variables GitHub's runner gives
 * every step (GITHUB_ACTOR, GITHUB_REPOSITORY, GITHUB_REF…), taken from the run's github context.
 */
import type { Value } from '../expressions.js';

const FROM_GITHUB: Record<string, string> = {
  GITHUB_ACTOR: 'actor',
  GITHUB_REPOSITORY: 'repository',
  GITHUB_REPOSITORY_OWNER: 'repository_owner',
  GITHUB_EVENT_NAME: 'event_name',
  GITHUB_RUN_ID: 'run_id',
  GITHUB_RUN_NUMBER: 'run_number',
  GITHUB_WORKFLOW: 'workflow',
  GITHUB_SHA: 'sha',
  GITHUB_REF: 'ref',
  GITHUB_REF_NAME: 'ref_name',
  GITHUB_HEAD_REF: 'head_ref',
  GITHUB_BASE_REF: 'base_ref',
  GITHUB_SERVER_URL: 'server_url',
};

type ValueMap = { [key: string]: Value };

/** head_ref and base_ref of a pull_request event, and the owner from `owner/name`, where not given. */
export function completeGithub(github: ValueMap): ValueMap {
  const pr = at(at(github.event, 'pull_request'), 'head');
  const base = at(at(github.event, 'pull_request'), 'base');
  const owner = typeof github.repository === 'string' ? github.repository.split('/')[0] : undefined;
  return {
    ...(typeof at(pr, 'ref') === 'string' ? { head_ref: at(pr, 'ref') } : {}),
    ...(typeof at(base, 'ref') === 'string' ? { base_ref: at(base, 'ref') } : {}),
    ...(owner ? { repository_owner: owner } : {}),
    ...github,
  };
}

/** The variables every step gets from the github and runner contexts. */
export function githubEnv(github: ValueMap, runner: ValueMap): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, key] of Object.entries(FROM_GITHUB)) {
    const v = github[key];
    if (typeof v === 'string' || typeof v === 'number') env[name] = String(v);
  }
  for (const key of ['os', 'arch', 'temp'] as const) {
    const v = runner[key];
    if (typeof v === 'string') env[`RUNNER_${key.toUpperCase()}`] = v;
  }
  return env;
}

function at(v: Value | undefined, key: string): Value | undefined {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) ? v[key] : undefined;
}
