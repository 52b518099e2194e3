import { join } from 'node:path';
import { RunLauncher } from '../github/run-launcher.js';
import type { SandboxManager } from '../sandboxes/manager.js';
import type { WorkflowRunStore } from '../store/workflow-run-store.js';
import { type SnapshotMode, WorkflowRuns, workflowRunsConfig } from '../workflows/runs/workflow-runs.js';
import type { ServerMetrics } from './metrics.js';
import type { WorkflowRunRoutesOptions } from './routes/workflow-runs.js';

/** How often the server frees workflow step snapshots past their retention. */
const SWEEP_INTERVAL_MS = 60 * 60_000;

export interface WorkflowServerParts {
  runs: WorkflowRuns;
  /** Where webhook-triggered runs go: recorded runs on this server's manager. */
  launcher: RunLauncher;
  routes: WorkflowRunRoutesOptions;
  /** Marks runs a dead process left unfinished, frees expired snapshots, and keeps freeing them hourly. */
  start(): Promise<void>;
  /** Cancels the runs in flight and the sweeps. Idempotent. */
  stop(): void;
}

/** The workflow runner as `hearth serve` has it: recorded runs, the webhook's launcher, /v1/runs. */
export function workflowServerParts(o: {
  store: WorkflowRunStore;
  manager: SandboxManager;
  stateDir: string;
  /** Whether webhook runs snapshot each step (`HEARTH_WORKFLOW_SNAPSHOTS`, checked by the caller). */
  snapshots: SnapshotMode;
  metrics: ServerMetrics;
  env: NodeJS.ProcessEnv;
  onWarning: (obj: object, msg: string) => void;
}): WorkflowServerParts {
  const runs = new WorkflowRuns({
    store: o.store,
    manager: o.manager,
    snapshotsDir: join(o.stateDir, 'workflow-snapshots'),
    ...workflowRunsConfig(o.env),
    onWarning: (msg) => o.onWarning({}, msg),
  });
  const launcher = new RunLauncher({
    runs,
    ...(o.env.HEARTH_GITHUB_BACKEND ? { backend: o.env.HEARTH_GITHUB_BACKEND } : {}),
    ...(o.env.HEARTH_GITHUB_IMAGE ? { image: o.env.HEARTH_GITHUB_IMAGE } : {}),
    snapshots: o.snapshots,
    onRunFinished: (result) => o.metrics.workflowRunFinished(result),
    onWarning: o.onWarning,
  });
  let timer: NodeJS.Timeout | undefined;
  return {
    runs,
    launcher,
    routes: { store: o.store, deleteRun: (id) => runs.deleteRun(id) },
    async start() {
      await runs.recover();
      timer = setInterval(() => {
        runs.sweep().catch((err) => o.onWarning({ err }, 'cannot free expired workflow snapshots'));
      }, SWEEP_INTERVAL_MS);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      launcher.stop();
    },
  };
}
