import { randomUUID } from 'node:crypto';
import type { GitHubStore, RequestedWorkflow } from '../store/github-store.js';

/** Everything a workflow run needs from the webhook that asked for it. */
export interface LaunchRequest {
  /** `owner/name`. */
  repository: string;
  /** GITHUB_REF of the run. */
  ref: string;
  /** The commit the run checks out. */
  sha: string;
  /** X-GitHub-Event: `push`, `pull_request`, `workflow_dispatch`. */
  event: string;
  /** The webhook payload (the runner's `github.event`). */
  payload: unknown;
  /** The workflow files whose `on:` matched. */
  workflows: RequestedWorkflow[];
  /** X-GitHub-Delivery, when it came from a webhook. */
  deliveryId?: string;
  /** The repository checked out at `sha`; it is kept until the launch's `finished` settles. */
  repositoryDir: string;
  /** The text of each matched workflow file, by path, as read (bounded, no symlinks) to match it. */
  workflowContents: Record<string, string>;
}

/** How a launched run ended, for the commit status. */
export type RunConclusion = 'success' | 'failure' | 'error';

export interface LaunchResult {
  /** The request's id (for the run's records and the status's link). */
  id: string;
  /**
   * Settles when the run ends; absent when the launcher only queues. The caller reports it as
   * the commit's status and holds a concurrency slot until then.
   */
  finished?: Promise<RunConclusion>;
}

/**
 * Where webhook-triggered runs go: the port the workflow executor implements. Called with at most
 * HEARTH_GITHUB_MAX_CONCURRENT requests in flight (a run holds its slot until `finished` settles).
 */
export interface WorkflowLauncher {
  launch(request: LaunchRequest): Promise<LaunchResult>;
}

/** A launcher that records the request in the store as queued, for the runner to take up. */
export class StoreLauncher implements WorkflowLauncher {
  readonly #store: GitHubStore;
  readonly #now: () => number;

  constructor(o: { store: GitHubStore /** @default Date.now */; now?: () => number }) {
    this.#store = o.store;
    this.#now = o.now ?? Date.now;
  }

  async launch(r: LaunchRequest): Promise<LaunchResult> {
    const id = randomUUID();
    await this.#store.insertWorkflowRequest({
      id,
      deliveryId: r.deliveryId ?? null,
      repository: r.repository,
      ref: r.ref,
      sha: r.sha,
      event: r.event,
      workflows: r.workflows,
      payload: r.payload,
      state: 'queued',
      createdAtMs: this.#now(),
    });
    return { id };
  }
}
