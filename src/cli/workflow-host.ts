import { join } from 'node:path';
import { hearthPaths } from '../config/paths.js';
import { jobsConfig } from '../jobs/config.js';
import { managerConfigFor } from '../jobs/service.js';
import { LearningService, learningConfig } from '../learning/service.js';
import { SandboxManager } from '../sandboxes/manager.js';
import { endDeadLocalLeases } from '../sandboxes/worker-id.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { WorkflowRuns, workflowRunsConfig } from '../workflows/runs/workflow-runs.js';

export interface WorkflowHost {
  /** The state directory's store: what the CLI records there, `hearth serve` and later commands see. */
  store: SqliteStore;
  manager: SandboxManager;
  /** The command knowledge graph: it learns from the run's commands and advises its steps. */
  learning: LearningService;
  /** Recorded runs: a run, a retry and their snapshots (`<state>/workflow-snapshots`). */
  runs: WorkflowRuns;
  /** Stops the manager (its sandboxes are released), the graph, then the store. Idempotent. */
  close(): Promise<void>;
}

/**
 * The services a workflow run needs, in this process, on the state directory's store: `hearth
 * workflow` runs locally (as act does) yet leaves its records, snapshots and lessons where a server
 * and the next command find them. Sandboxes a crashed earlier process left are freed first.
 */
export async function openWorkflowHost(
  o: { env?: NodeJS.ProcessEnv; onWarning?: (obj: object, msg: string) => void } = {},
): Promise<WorkflowHost> {
  const env = o.env ?? process.env;
  const paths = hearthPaths(env);
  const store = await SqliteStore.open({ path: paths.db });
  const warn = o.onWarning ?? (() => {});
  const manager = new SandboxManager({
    // A command that runs one workflow and exits has no use for warm sandboxes: each would be
    // started only to be thrown away. HEARTH_POOL_SIZE still sets one.
    config: managerConfigFor(jobsConfig({ HEARTH_POOL_SIZE: '0', ...env })),
    ledger: store.ledger,
    rows: store.sandboxes,
    paths,
    onWarning: warn,
  });
  const learning = new LearningService({
    store: store.learning,
    config: learningConfig(env),
    onWarning: warn,
  });
  const runs = new WorkflowRuns({
    store: store.workflowRuns,
    manager,
    snapshotsDir: join(paths.state, 'workflow-snapshots'),
    ...workflowRunsConfig(env),
    onWarning: (msg) => warn({}, msg),
  });
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await manager.close().catch(() => {});
      await learning.close().catch(() => {});
      await store.close();
    })());
  try {
    await learning.start(manager.events);
    await endDeadLocalLeases(store.sandboxes);
    manager.start();
    // Runs a killed earlier process left 'running' are marked failed; expired snapshots are freed.
    await runs.recover();
  } catch (err) {
    await close();
    throw err;
  }
  return { store, manager, learning, runs, close };
}
