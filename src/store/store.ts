import type { GitHubStore } from './github-store.js';
import type { JobStore } from './job-store.js';
import type { LearningStore } from './learning-store.js';
import type { SandboxRowStore } from './sandbox-row-store.js';
import type { SessionStore } from './session-store.js';
import type { SnapshotStore } from './snapshot-store.js';
import type { WorkflowRunStore } from './workflow-run-store.js';

/**
 * The one store object the server opens and passes around: jobs, the host ledger, and the rows
 * of the sandbox manager, sessions and snapshots, the command knowledge graph, all on one database. SQLite implements it
 * (sqlite-store.ts); every part is a port of its own, so a PostgreSQL store can follow part by part.
 */
export interface Store extends JobStore {
  readonly sandboxes: SandboxRowStore;
  readonly sessions: SessionStore;
  readonly snapshots: SnapshotStore;
  /** The command knowledge graph. */
  readonly learning: LearningStore;
  /** GitHub webhook deliveries and the workflow runs they ask for. */
  readonly github: GitHubStore;
  /** Workflow runs, their jobs, steps and step snapshots. */
  readonly workflowRuns: WorkflowRunStore;
}
