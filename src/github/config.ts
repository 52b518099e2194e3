import { envInt } from '../config/env-int.js';
import type { RepositorySource } from './repository-fetch.js';

/** The GitHub webhook receiver's settings, from the environment. */
export interface GitHubConfig {
  /** `HEARTH_GITHUB_WEBHOOK_SECRET`: without it the webhook route answers 503 WEBHOOK_NOT_CONFIGURED. */
  webhookSecret?: string;
  /** `HEARTH_GITHUB_TOKEN`: fetches private repositories over HTTPS and enables commit statuses. */
  token?: string;
  /** `HEARTH_GITHUB_API_URL`; @default https://api.github.com */
  apiUrl: string;
  /** `HEARTH_GITHUB_URL`, where repositories are fetched over HTTPS; @default https://github.com */
  serverUrl: string;
  /** `HEARTH_GITHUB_MIRROR_DIR`: fetch from `<dir>/<owner>/<repo>.git` instead of over HTTPS. */
  mirrorDir?: string;
  /** Deliveries handled at once (fetch, match, run). `HEARTH_GITHUB_MAX_CONCURRENT`; @default 2 */
  maxConcurrent: number;
  /** Deliveries waiting beyond those; past it the webhook answers 429. `HEARTH_GITHUB_MAX_QUEUE`; @default 100 */
  maxQueued: number;
  /** Each git command of a fetch. `HEARTH_GITHUB_FETCH_TIMEOUT_MS`; @default 120000 */
  fetchTimeoutMs: number;
}

const opt = (v: string | undefined): string | undefined => (v?.trim() ? v.trim() : undefined);

export function githubConfig(env: NodeJS.ProcessEnv = process.env): GitHubConfig {
  const webhookSecret = opt(env.HEARTH_GITHUB_WEBHOOK_SECRET);
  const token = opt(env.HEARTH_GITHUB_TOKEN);
  const mirrorDir = opt(env.HEARTH_GITHUB_MIRROR_DIR);
  return {
    ...(webhookSecret ? { webhookSecret } : {}),
    ...(token ? { token } : {}),
    ...(mirrorDir ? { mirrorDir } : {}),
    apiUrl: opt(env.HEARTH_GITHUB_API_URL) ?? 'https://api.github.com',
    serverUrl: opt(env.HEARTH_GITHUB_URL) ?? 'https://github.com',
    maxConcurrent: envInt(env, 'HEARTH_GITHUB_MAX_CONCURRENT', 2, 1),
    maxQueued: envInt(env, 'HEARTH_GITHUB_MAX_QUEUE', 100, 1),
    fetchTimeoutMs: envInt(env, 'HEARTH_GITHUB_FETCH_TIMEOUT_MS', 120_000, 1000),
  };
}

/** Where the configuration says repositories come from. */
export function repositorySourceOf(c: GitHubConfig): RepositorySource {
  if (c.mirrorDir) return { kind: 'mirror', dir: c.mirrorDir };
  return { kind: 'https', serverUrl: c.serverUrl, ...(c.token ? { token: c.token } : {}) };
}
