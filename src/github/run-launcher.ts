import { randomUUID } from 'node:crypto';
import type { WorkflowRunResult } from '../workflows/executor/types.js';
import type { Value } from '../workflows/expressions.js';
import type { RunRequest } from '../workflows/runs/run-spec.js';
import type { LaunchRequest, LaunchResult, RunConclusion, WorkflowLauncher } from './launcher.js';

/** The part of WorkflowRuns a launcher drives. */
export interface RecordedRunner {
  execute(req: RunRequest): Promise<{ runId: string; result: WorkflowRunResult }>;
}

export interface RunLauncherOptions {
  runs: RecordedRunner;
  /** `HEARTH_GITHUB_BACKEND`; @default the server's default backend */
  backend?: string;
  /** `HEARTH_GITHUB_IMAGE`; @default 'default' */
  image?: string;
  /** Whether a snapshot follows each successful step (`HEARTH_WORKFLOW_SNAPSHOTS`). @default 'every-step' */
  snapshots?: 'every-step' | 'none';
  /** Told of each run as it ends (the server's Prometheus metrics). */
  onRunFinished?: (result: WorkflowRunResult) => void;
  onWarning?: (obj: object, msg: string) => void;
}

/**
 * Runs what a webhook asked for, each matched workflow in turn, as recorded runs (GET /v1/runs):
 * one sandbox per job, a snapshot after each step. The repository is the dispatcher's checkout at
 * the commit, which it keeps until `finished` settles; a retry of such a run starts from its
 * snapshots, since the checkout is gone by then.
 */
export class RunLauncher implements WorkflowLauncher {
  readonly #o: RunLauncherOptions;
  readonly #stop = new AbortController();

  constructor(o: RunLauncherOptions) {
    this.#o = o;
  }

  async launch(r: LaunchRequest): Promise<LaunchResult> {
    const id = randomUUID();
    const dir = r.repositoryDir;
    const finished = (async (): Promise<RunConclusion> => {
      let conclusion: RunConclusion = 'success';
      for (const w of r.workflows) {
        if (this.#stop.signal.aborted) return 'error';
        try {
          const content = r.workflowContents[w.path];
          if (content === undefined) throw new Error(`${w.path} was not read when it was matched`);
          const { result } = await this.#o.runs.execute({
            workflow: w.name,
            workflowContent: content,
            repositoryDir: dir,
            repository: r.repository,
            event: r.event,
            eventPayload: r.payload,
            contexts: { github: githubOf(r) },
            signal: this.#stop.signal,
            ...(this.#o.backend ? { backend: this.#o.backend } : {}),
            ...(this.#o.image ? { image: this.#o.image } : {}),
            ...(this.#o.snapshots ? { snapshots: this.#o.snapshots } : {}),
          });
          this.#o.onRunFinished?.(result);
          if (result.result !== 'success' && conclusion === 'success') conclusion = 'failure';
        } catch (err) {
          // An invalid workflow is recorded as a failed run by WorkflowRuns; anything else is an error.
          this.#o.onWarning?.(
            { err, request: id, workflow: w.path },
            'a webhook-triggered workflow did not run',
          );
          conclusion = 'error';
        }
      }
      return conclusion;
    })();
    return { id, finished };
  }

  /** Cancels the runs in flight (their `always()` steps still run); the dispatcher waits for them to end. */
  stop(): void {
    this.#stop.abort();
  }
}

/** The `github` context of a webhook-triggered run, as GitHub fills it from the event. */
function githubOf(r: LaunchRequest): Record<string, Value> {
  const payload = (r.payload ?? {}) as Record<string, Value>;
  const sender = payload.sender as Record<string, Value> | undefined;
  const [owner = ''] = r.repository.split('/');
  const refName = r.ref.replace(/^refs\/(heads|tags)\//, '');
  return {
    event_name: r.event,
    event: payload,
    repository: r.repository,
    repository_owner: owner,
    sha: r.sha,
    ref: r.ref,
    ref_name: refName,
    ...(typeof sender?.login === 'string' ? { actor: sender.login } : {}),
  };
}
