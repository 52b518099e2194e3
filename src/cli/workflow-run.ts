/**
 * `hearth workflow run`: act's command on hearth's sandboxes. The workflows are chosen and parsed,
 * the flags read into contexts (secrets, vars, inputs, the event), then each workflow runs in turn
 * in this process on the state directory's store (openWorkflowHost), its lines printed live and a
 * summary (or one JSON document) at the end. Exit code: 0 if every run succeeded, 1 if one did not,
 * 2 for bad flags or an invalid workflow.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { BACKEND_NAMES } from '../backends/backend.js';
import { toHearthError } from '../errors/hearth-error.js';
import { BackendSet } from '../sandboxes/backend-set.js';
import { type ExecuteOptions, SecretMask, type WorkflowRunResult } from '../workflows/index.js';
import { type SnapshotMode, snapshotMode } from '../workflows/runs/workflow-runs.js';
import { type ContextFlags, prepareRuns } from './workflow-contexts.js';
import { dryRun } from './workflow-dryrun.js';
import { openWorkflowHost, type WorkflowHost } from './workflow-host.js';
import { matrixFlags, usage } from './workflow-inputs.js';
import { jsonDocument, LivePrinter, type Outputs, type RunReport, summaryText } from './workflow-output.js';
import { formatTable, listTable, loadWorkflows, selectWorkflows } from './workflow-select.js';

/** The flags of `hearth workflow run`, as commander gives them. */
export interface WorkflowRunFlags extends ContextFlags {
  workflows?: string;
  job?: string;
  matrix: string[];
  list?: boolean;
  dryrun?: boolean;
  dryRun?: boolean;
  directory?: string;
  backend?: string;
  image?: string;
  actionsDir?: string;
  snapshots?: string;
  json?: boolean;
  /** False with --no-advice. */
  advice: boolean;
}

/**
 * The one place a workflow is executed: recorded in the store with a snapshot after each step
 * (so `hearth workflow retry` and `debug` can take it up), the knowledge graph advising each step
 * unless told not to.
 */
export async function executeRun(
  host: WorkflowHost,
  opts: Omit<ExecuteOptions, 'manager' | 'advisor' | 'runId'> & { advice: boolean; workflowPath: string },
): Promise<WorkflowRunResult> {
  const { advice, workflowPath, workflow, contexts, ...rest } = opts;
  const { result } = await host.runs.execute({
    ...rest,
    workflowPath,
    workflowContent: readFileSync(workflowPath, 'utf8'),
    parsed: workflow,
    ...(contexts ? { contexts } : {}),
    ...(advice ? { advisor: host.learning.knowledge } : {}),
  });
  return result;
}

export interface WorkflowRunOptions {
  /** The event argument; @default 'push' */
  event?: string;
  flags: WorkflowRunFlags;
  out: Outputs;
  /** Where bare `-s NAME` secrets and the host's settings are read. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/** Runs the command; returns its exit code. Every error it prints is masked. */
export async function workflowRun(o: WorkflowRunOptions): Promise<number> {
  const mask = new SecretMask();
  try {
    return await run({ ...o, env: o.env ?? process.env }, mask);
  } catch (err) {
    const e = toHearthError(err);
    o.out.stderr(mask.apply(`hearth: ${e.message} [${e.code}]\n`));
    if (e.hint) o.out.stderr(`hint: ${e.hint}\n`);
    return 2;
  }
}

async function run(o: WorkflowRunOptions & { env: NodeJS.ProcessEnv }, mask: SecretMask): Promise<number> {
  const { flags: f, out, env } = o;
  const repoDir = resolve(f.directory ?? '.');
  if (!existsSync(repoDir) || !statSync(repoDir).isDirectory())
    throw usage(`--directory ${repoDir} is not a directory`);
  const event = o.event ?? 'push';
  const all = await loadWorkflows(
    f.workflows ? resolve(f.workflows) : join(repoDir, '.github', 'workflows'),
    repoDir,
  );
  if (f.list) {
    out.stdout(formatTable(listTable(f.job ? selectWorkflows(all, { event, job: f.job }) : all)));
    return 0;
  }
  const chosen = selectWorkflows(all, { event, ...(f.job ? { job: f.job } : {}) });
  if (chosen.length === 0) throw usage(`no workflow runs on '${event}' (see --list for their events)`);
  const matrixFilter = matrixFlags(f.matrix);
  const { runs: prepared, runEnv } = prepareRuns({
    flags: f,
    workflows: chosen,
    event,
    repoDir,
    env,
    mask,
    warn: (message) => out.stderr(`hearth: warning: ${message}\n`),
  });
  let snapshots: SnapshotMode;
  try {
    snapshots = snapshotMode(f.snapshots, env);
  } catch (err) {
    throw usage((err as Error).message);
  }
  if (f.backend !== undefined && !BackendSet.isKnown(f.backend))
    throw usage(`--backend ${f.backend} is not one of ${BACKEND_NAMES.join(', ')}`);
  const dry = f.dryrun || f.dryRun;
  if (dry) {
    for (const { w, contexts } of prepared)
      await dryRun(w, {
        contexts,
        ...(matrixFilter ? { matrixFilter } : {}),
        print: (line) => out.stdout(mask.apply(`${line}\n`)),
      });
    return 0;
  }
  out.stderr(`hearth: preparing ${prepared.length} workflow run(s) on '${event}'\n`);
  const host = await openWorkflowHost({ env });
  const ctrl = new AbortController();
  const onSignal = () => {
    out.stderr('hearth: cancelling the run (its sandboxes are released)\n');
    ctrl.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const reports: RunReport[] = [];
  try {
    // A backend that cannot run here is a usage error (exit 2), said once rather than by every job.
    await host.manager.backends.get(f.backend);
    for (const { w, contexts } of prepared) {
      if (ctrl.signal.aborted) break;
      const printer = new LivePrinter({ workflow: w.workflow.name, mask, out, json: f.json === true });
      const result = await executeRun(host, {
        workflow: w.workflow,
        workflowPath: resolve(repoDir, w.file),
        repositoryDir: repoDir,
        repository: `local/${basename(repoDir)}`,
        contexts,
        env: runEnv,
        mask,
        onLog: printer.onLog,
        onEvent: printer.onEvent,
        signal: ctrl.signal,
        advice: f.advice,
        ...(matrixFilter ? { matrixFilter } : {}),
        ...(f.backend ? { backend: f.backend } : {}),
        ...(f.image ? { image: f.image } : {}),
        ...(f.actionsDir ? { actionsDir: resolve(f.actionsDir) } : {}),
        snapshots,
      });
      reports.push({ file: w.file, event, run: result });
      out.stderr(`hearth: run ${result.runId} recorded: hearth workflow retry|debug ${result.runId}\n`);
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await host.close();
  }
  if (f.json) out.stdout(jsonDocument(reports, mask));
  else out.stdout(summaryText(reports, { advice: f.advice, mask }));
  const ok = reports.length === prepared.length && reports.every((r) => r.run.result === 'success');
  return ok ? 0 : 1;
}
