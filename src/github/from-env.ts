import type { GitHubStore } from '../store/github-store.js';
import { type GitHubConfig, repositorySourceOf } from './config.js';
import { WebhookDispatcher } from './dispatcher.js';
import { StoreLauncher, type WorkflowLauncher } from './launcher.js';
import { CommitStatusReporter } from './status-reporter.js';

export interface GitHubWebhookParts {
  secret?: string;
  dispatcher?: WebhookDispatcher;
}

/**
 * The webhook receiver as the configuration asks: nothing without a secret; otherwise a dispatcher
 * onto `launcher` (by default one that queues requests in the store), with commit statuses when a
 * token is set.
 */
export function githubWebhookParts(o: {
  config: GitHubConfig;
  store: GitHubStore;
  /** @default a StoreLauncher on `store` */
  launcher?: WorkflowLauncher;
  onWarning?: (obj: object, msg: string) => void;
}): GitHubWebhookParts {
  const c = o.config;
  if (!c.webhookSecret) return {};
  const dispatcher = new WebhookDispatcher({
    store: o.store,
    launcher: o.launcher ?? new StoreLauncher({ store: o.store }),
    source: repositorySourceOf(c),
    ...(c.token ? { reporter: new CommitStatusReporter({ token: c.token, baseUrl: c.apiUrl }) } : {}),
    maxConcurrent: c.maxConcurrent,
    maxQueued: c.maxQueued,
    fetchTimeoutMs: c.fetchTimeoutMs,
    ...(o.onWarning ? { onWarning: o.onWarning } : {}),
  });
  return { secret: c.webhookSecret, dispatcher };
}
