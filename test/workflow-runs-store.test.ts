/**
 * Workflow run records on a real SQLite file: runs, their jobs and steps with the state a retry
 * resumes with, logs in job-then-step order, snapshots, and deletion cascading from the run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/store/sqlite-store.js';
import type { WorkflowRunRow, WorkflowStepRow } from '../src/store/workflow-run-store.js';

let dir: string;
let store: SqliteStore;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-wf-runs-store-'));
  store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
});

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

function run(id: string, over: Partial<WorkflowRunRow> = {}): WorkflowRunRow {
  return {
    id,
    workflow: 'ci',
    workflowPath: '/repo/.github/workflows/ci.yml',
    workflowContent: 'on: push\njobs: {}\n',
    repositoryDir: '/repo',
    repository: 'local/repository',
    event: 'push',
    eventPayload: { ref: 'refs/heads/main' },
    inputs: { level: '2' },
    vars: { A: 'b' },
    secretNames: ['TOKEN'],
    backend: 'bwrap',
    image: 'default',
    snapshots: 'every-step',
    status: 'running',
    error: null,
    retryOf: null,
    ownerPid: process.pid,
    createdAtMs: 1000,
    startedAtMs: 1001,
    finishedAtMs: null,
    ...over,
  };
}

function step(
  runId: string,
  legKey: string,
  index: number,
  over: Partial<WorkflowStepRow> = {},
): WorkflowStepRow {
  return {
    runId,
    legKey,
    index,
    stepId: `s${index}`,
    name: `Run step ${index}`,
    outcome: 'success',
    conclusion: 'success',
    exitCode: 0,
    startedAtMs: 2000 + index,
    durationMs: 12.5,
    error: null,
    log: `${legKey} step ${index}\n`,
    summary: '',
    advice: null,
    outputs: { out: String(index) },
    snapshotId: null,
    state: { env: { X: String(index) }, path: ['/opt/bin'], steps: {}, workingDirectory: '/home/user' },
    carriedFrom: null,
    ...over,
  };
}

describe('workflow run records', () => {
  it('keeps a run with its jobs and steps, the secret names but no values', async () => {
    await store.workflowRuns.insertRun(run('r1'));
    await store.workflowRuns.upsertJob({
      runId: 'r1',
      legKey: 'build',
      jobId: 'build',
      name: 'build',
      result: 'running',
      sandboxId: 'bwrap-1-aa',
      startedAtMs: 1500,
      durationMs: null,
      error: null,
      outputs: {},
    });
    await store.workflowRuns.upsertJob({
      runId: 'r1',
      legKey: 'test[0]',
      jobId: 'test',
      name: 'test (1)',
      result: 'running',
      sandboxId: null,
      startedAtMs: 1600,
      durationMs: null,
      error: null,
      outputs: {},
    });
    await store.workflowRuns.upsertStep(step('r1', 'test[0]', 0));
    await store.workflowRuns.upsertStep(
      step('r1', 'build', 1, { outcome: 'failure', conclusion: 'failure', exitCode: 3 }),
    );
    await store.workflowRuns.upsertStep(step('r1', 'build', 0));
    // The leg ends: its row is replaced, its place in the run kept.
    await store.workflowRuns.upsertJob({
      runId: 'r1',
      legKey: 'build',
      jobId: 'build',
      name: 'build',
      result: 'failure',
      sandboxId: 'bwrap-1-aa',
      startedAtMs: 1500,
      durationMs: 800,
      error: null,
      outputs: { v: '1' },
    });
    await store.workflowRuns.updateRun('r1', { status: 'failure', finishedAtMs: 3000 });
    const d = await store.workflowRuns.getRunDetail('r1');
    expect(d?.status).toBe('failure');
    expect(d?.secretNames).toEqual(['TOKEN']);
    expect(d?.inputs).toEqual({ level: '2' });
    expect(d?.jobs.map((j) => [j.legKey, j.result, j.steps.map((s) => s.index)])).toEqual([
      ['build', 'failure', [0, 1]],
      ['test[0]', 'running', [0]],
    ]);
    expect(d?.jobs[0]?.steps[1]?.exitCode).toBe(3);
    expect(d?.jobs[0]?.steps[0]?.state?.env).toEqual({ X: '0' });
    expect(d?.jobs[0]?.outputs).toEqual({ v: '1' });
    const logs = await store.workflowRuns.runLogs('r1');
    expect(logs.map((l) => `${l.legKey}#${l.index}`)).toEqual(['build#0', 'build#1', 'test[0]#0']);
  });

  it('lists newest first, by status, and the unfinished ones', async () => {
    await store.workflowRuns.insertRun(run('r2', { status: 'success', createdAtMs: 2000 }));
    await store.workflowRuns.insertRun(run('r3', { status: 'running', createdAtMs: 3000 }));
    expect((await store.workflowRuns.listRuns({ limit: 10 })).map((r) => r.id)).toEqual(['r3', 'r2', 'r1']);
    expect((await store.workflowRuns.listRuns({ limit: 1 })).map((r) => r.id)).toEqual(['r3']);
    expect((await store.workflowRuns.listRuns({ limit: 10, status: 'success' })).map((r) => r.id)).toEqual([
      'r2',
    ]);
    expect((await store.workflowRuns.unfinishedRuns()).map((r) => r.id)).toEqual(['r3']);
    expect(await store.workflowRuns.getRun('nope')).toBeUndefined();
    expect(await store.workflowRuns.updateRun('nope', { status: 'failure' })).toBe(false);
  });

  it('keeps snapshots per step, drops a freed one from its step, and deletes a run whole', async () => {
    await store.workflowRuns.insertSnapshot({
      id: 'snap-a',
      runId: 'r1',
      legKey: 'build',
      stepIndex: 0,
      kind: 'filesystem',
      dir: '/state/workflow-snapshots/snap-a',
      info: { dir: '/x', kind: 'filesystem' },
      sizeBytes: 42,
      createdAtMs: 500,
    });
    await store.workflowRuns.upsertStep(step('r1', 'build', 0, { snapshotId: 'snap-a' }));
    expect((await store.workflowRuns.getSnapshot('snap-a'))?.info).toEqual({ dir: '/x', kind: 'filesystem' });
    expect((await store.workflowRuns.listSnapshots({ createdBeforeMs: 501 })).map((s) => s.id)).toEqual([
      'snap-a',
    ]);
    expect(await store.workflowRuns.listSnapshots({ createdBeforeMs: 500 })).toEqual([]);
    expect(await store.workflowRuns.deleteSnapshot('snap-a')).toBe(true);
    const d = await store.workflowRuns.getRunDetail('r1');
    expect(d?.jobs[0]?.steps[0]?.snapshotId).toBeNull();
    expect(await store.workflowRuns.deleteSnapshot('snap-a')).toBe(false);

    await store.workflowRuns.insertSnapshot({
      id: 'snap-b',
      runId: 'r1',
      legKey: 'build',
      stepIndex: 1,
      kind: 'memory',
      dir: '/d',
      info: {},
      sizeBytes: 1,
      createdAtMs: 600,
    });
    expect(await store.workflowRuns.deleteRun('r1')).toBe(true);
    expect(await store.workflowRuns.getRunDetail('r1')).toBeUndefined();
    expect(await store.workflowRuns.runLogs('r1')).toEqual([]);
    expect(await store.workflowRuns.listSnapshots({ runId: 'r1' })).toEqual([]);
    expect(await store.workflowRuns.deleteRun('r1')).toBe(false);
  });
});
