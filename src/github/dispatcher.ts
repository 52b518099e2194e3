import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HearthError } from '../errors/hearth-error.js';
import type { GitHubStore, RequestedWorkflow } from '../store/github-store.js';
import { type RunnableEvent, routeEvent } from './events.js';
import type { RunConclusion, WorkflowLauncher } from './launcher.js';
import { changedFilesBetween, fetchRepository, type RepositorySource } from './repository-fetch.js';
import type { CommitState, CommitStatusReporter } from './status-reporter.js';
import { triggersFor } from './triggers.js';
import { readWorkflows } from './workflow-files.js';

export interface WebhookDispatcherOptions {
  store: GitHubStore;
  launcher: WorkflowLauncher;
  source: RepositorySource;
  /** Commit statuses; none without a token. */
  reporter?: CommitStatusReporter;
  /** Deliveries handled at once. @default 2 */
  maxConcurrent?: number;
  /** Deliveries waiting beyond those. @default 100 */
  maxQueued?: number;
  /** Where checkouts are made, and removed after matching. @default os.tmpdir() */
  workDir?: string;
  /** @default 120000 */
  fetchTimeoutMs?: number;
  onWarning?: (obj: object, msg: string) => void;
}

/** A delivery accepted for handling. */
export interface Delivery {
  id: string;
  /** X-GitHub-Event. */
  event: string;
  runnable: RunnableEvent;
  payload: unknown;
}

const CONCLUSION_TEXT: Record<CommitState, string> = {
  pending: 'queued on hearth',
  success: 'succeeded on hearth',
  failure: 'failed on hearth',
  error: 'could not run on hearth',
};

/**
 * Takes accepted webhook deliveries and, off the request, fetches the repository at the commit,
 * matches its workflows' `on:` filters and hands what matched to the launcher: a bounded queue in
 * front of a bounded number of handlers. A delivery is recorded before it is queued, so a redelivery
 * is recognised and a server that stops before handling it resumes it (`resume`).
 */
export class WebhookDispatcher {
  readonly #o: WebhookDispatcherOptions;
  readonly #queue: Delivery[] = [];
  readonly #maxConcurrent: number;
  readonly #maxQueued: number;
  #running = 0;
  /** Accepts between their capacity check and their place in the queue. */
  #reserved = 0;
  #closed = false;
  #idleWaiters: Array<() => void> = [];

  constructor(o: WebhookDispatcherOptions) {
    this.#o = o;
    this.#maxConcurrent = o.maxConcurrent ?? 2;
    this.#maxQueued = o.maxQueued ?? 100;
  }

  /** Records and queues a delivery; `duplicate` when its id was seen before. Throws QUEUE_FULL or SHUTTING_DOWN. */
  async accept(d: Delivery): Promise<'queued' | 'duplicate'> {
    if (this.#closed) throw new HearthError('SHUTTING_DOWN', 'the server is stopping');
    if (this.#queue.length + this.#reserved >= this.#maxQueued) {
      throw new HearthError('QUEUE_FULL', `${this.#maxQueued} webhook deliveries are already waiting`, {
        hint: 'GitHub can redeliver it later (Settings → Webhooks → Recent deliveries); raise HEARTH_GITHUB_MAX_QUEUE for more.',
      });
    }
    this.#reserved++;
    let fresh: boolean;
    try {
      fresh = await this.#o.store.recordDelivery({
        id: d.id,
        event: d.event,
        repository: d.runnable.repository,
        payload: JSON.stringify(d.payload),
        atMs: Date.now(),
      });
    } finally {
      this.#reserved--;
    }
    if (!fresh) return 'duplicate';
    this.#enqueue(d);
    return 'queued';
  }

  /** Queues again the deliveries a stopped server recorded but did not handle; returns how many. */
  async resume(): Promise<number> {
    const rows = await this.#o.store.queuedDeliveries(this.#maxQueued);
    for (const row of rows) {
      try {
        const payload: unknown = JSON.parse(row.payload);
        const routing = routeEvent(row.event, payload);
        if (routing.kind !== 'runnable') throw new Error(`not runnable: ${routing.kind}`);
        this.#enqueue({ id: row.id, event: row.event, runnable: routing.event, payload });
      } catch (err) {
        await this.#o.store.finishDelivery(
          row.id,
          'failed',
          `cannot resume: ${(err as Error).message}`,
          Date.now(),
        );
      }
    }
    return rows.length;
  }

  /** Resolves once nothing is queued or being handled. */
  idle(): Promise<void> {
    if (!this.#running && !this.#queue.length) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Takes no more deliveries and waits for those being handled; queued ones stay recorded for `resume`. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#queue.length = 0;
    await this.idle();
  }

  #enqueue(d: Delivery): void {
    this.#queue.push(d);
    this.#pump();
  }

  #pump(): void {
    while (this.#running < this.#maxConcurrent && this.#queue.length) {
      const next = this.#queue.shift() as Delivery;
      this.#running++;
      void this.#handle(next).finally(() => {
        this.#running--;
        this.#pump();
        if (!this.#running && !this.#queue.length) for (const w of this.#idleWaiters.splice(0)) w();
      });
    }
  }

  async #handle(d: Delivery): Promise<void> {
    const finish = (status: 'launched' | 'no-match' | 'failed', detail: string) =>
      this.#o.store.finishDelivery(d.id, status, detail, Date.now()).catch((err) => {
        this.#o.onWarning?.({ err, delivery: d.id }, 'cannot record the outcome of a webhook delivery');
      });
    let dir: string | undefined;
    // Statuses set to pending, to be ended as `error` if the launch fails after them.
    let pending: { sha: string; workflows: RequestedWorkflow[] } | undefined;
    try {
      dir = await mkdtemp(join(this.#o.workDir ?? tmpdir(), 'hearth-github-'));
      const { sha, workflows, contents } = await this.#match(d.runnable, dir);
      if (!workflows.matched.length) {
        await finish('no-match', workflows.reasons.join('; ') || 'the repository has no workflows');
        return;
      }
      const r = d.runnable;
      await this.#reportAll(r.repository, sha, workflows.matched, 'pending');
      pending = { sha, workflows: workflows.matched };
      const result = await this.#o.launcher.launch({
        repository: r.repository,
        ref: r.ref,
        sha,
        event: d.event,
        payload: d.payload,
        workflows: workflows.matched,
        deliveryId: d.id,
        repositoryDir: dir,
        workflowContents: contents,
      });
      pending = undefined;
      await finish('launched', `request ${result.id}: ${workflows.matched.map((w) => w.path).join(', ')}`);
      // The handler's slot is held until the run ends: that bounds concurrent runs.
      if (result.finished) {
        const end = await result.finished.catch((): RunConclusion => 'error');
        await this.#reportAll(r.repository, sha, workflows.matched, end);
      }
    } catch (err) {
      this.#o.onWarning?.({ err, delivery: d.id }, 'a webhook delivery failed');
      await finish('failed', (err as Error).message);
      if (pending) await this.#reportAll(d.runnable.repository, pending.sha, pending.workflows, 'error');
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true }).catch(() => {});
    }
  }

  async #match(r: RunnableEvent, dir: string) {
    const { sha } = await fetchRepository({
      repository: r.repository,
      source: this.#o.source,
      dir,
      ...(r.sha ? { sha: r.sha } : {}),
      ref: r.ref,
      ...(r.baseSha ? { alsoFetch: [r.baseSha] } : {}),
      ...(this.#o.fetchTimeoutMs ? { timeoutMs: this.#o.fetchTimeoutMs } : {}),
    });
    let trigger = r.trigger;
    if (r.baseSha) {
      const changedFiles = await changedFilesBetween({ dir, base: r.baseSha, head: sha });
      if (changedFiles) trigger = { ...trigger, changedFiles };
    }
    const matched: RequestedWorkflow[] = [];
    const reasons: string[] = [];
    const contents: Record<string, string> = {};
    for (const wf of await readWorkflows(dir)) {
      const decision = triggersFor(wf.yaml, trigger, wf.path);
      if (decision.matched) {
        matched.push({ path: wf.path, name: wf.name });
        contents[wf.path] = wf.yaml;
      } else reasons.push(`${wf.path}: ${decision.reason}`);
    }
    return { sha, workflows: { matched, reasons }, contents };
  }

  /** A status per workflow; a failure to report is logged, it does not fail the run. */
  async #reportAll(repository: string, sha: string, workflows: RequestedWorkflow[], state: CommitState) {
    const reporter = this.#o.reporter;
    if (!reporter) return;
    for (const wf of workflows) {
      await reporter
        .report({
          repository,
          sha,
          state,
          context: `hearth/${wf.name}`,
          description: `${wf.name} ${CONCLUSION_TEXT[state]}`,
        })
        .catch((err) =>
          this.#o.onWarning?.({ err, repository, sha }, 'cannot report a commit status to GitHub'),
        );
    }
  }
}
