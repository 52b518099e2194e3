/**
 * Recorded runs on real bwrap sandboxes: the records a run leaves, a retry from step 3 that
 * restores the snapshot after step 2 instead of running steps 1–2 again, the errors a retry
 * gives, retention and delete freeing snapshot files, and a run a dead process left behind.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HearthError } from '../src/errors/hearth-error.js';
import { settledLeftovers } from './leak-check.js';
import { FOUR_STEPS, openRunsWorld, type RunsWorld } from './workflow-runs-fixture.js';

let w: RunsWorld;

beforeAll(async () => {
  w = await openRunsWorld();
});

afterAll(async () => {
  await w?.close();
  expect(await settledLeftovers({ settleMs: 3000 })).toEqual([]);
});

const codeOf = (err: unknown) => (err instanceof HearthError ? err.code : String(err));

describe('recorded workflow runs', () => {
  let failedRun = '';

  it('records a run that fails at step 3 with its job, steps, state and a snapshot per good step', async (ctx) => {
    if (w.skip) ctx.skip();
    writeFileSync(join(w.repo, 'config.txt'), 'bad\n');
    const { runId, result } = await w.runs.execute({
      workflowContent: FOUR_STEPS,
      workflowPath: w.workflowPath,
      repositoryDir: w.repo,
      secrets: { TOKEN: 'hunter2' },
    });
    failedRun = runId;
    expect(result.result).toBe('failure');
    const run = await w.store.workflowRuns.getRunDetail(runId);
    expect(run?.status).toBe('failure');
    expect(run?.workflow).toBe('four');
    expect(run?.secretNames).toEqual(['TOKEN']);
    // The job's env held the secret: recorded masked, and named so that a retry takes it anew.
    expect(JSON.stringify(run)).not.toContain('hunter2');
    expect(run?.jobs[0]?.steps[1]?.state?.env.TOKEN).toBe('***');
    expect(run?.jobs[0]?.steps[1]?.state?.redacted).toEqual(['TOKEN']);
    const [job] = run?.jobs ?? [];
    expect(job?.legKey).toBe('build');
    expect(job?.result).toBe('failure');
    expect(job?.sandboxId).toMatch(/^bwrap-/);
    expect(job?.steps.map((s) => [s.index, s.conclusion])).toEqual([
      [0, 'success'],
      [1, 'success'],
      [2, 'failure'],
      [3, 'skipped'],
    ]);
    expect(job?.steps[1]?.state?.env.FROM_TWO).toBe('yes');
    expect(job?.steps[2]?.state?.script).toContain('config.txt');
    expect(job?.steps[2]?.state?.workingDirectory).toBe('/home/user');
    // A snapshot after each successful step, none after the failed one.
    expect(job?.steps.map((s) => s.snapshotId !== null)).toEqual([true, true, false, false]);
    const snaps = await w.store.workflowRuns.listSnapshots({ runId });
    expect(snaps).toHaveLength(2);
    for (const s of snaps) expect(existsSync(s.dir)).toBe(true);
    const logs = await w.store.workflowRuns.runLogs(runId);
    expect(logs.map((l) => l.name)).toEqual(['first', 'second', 'third', 'fourth']);
    expect(w.manager.list()).toEqual([]);
  });

  it('retries from step 3 after the fix: steps 1–2 are not run again and the run succeeds', async (ctx) => {
    if (w.skip) ctx.skip();
    writeFileSync(join(w.repo, 'config.txt'), 'good\n');
    const ran: string[] = [];
    const { runId, result } = await w.runs.retry(failedRun, {
      fromStep: 3,
      // Secrets are not stored: the retry is given them again, and the job's env takes them up.
      secrets: { TOKEN: 'hunter2' },
      onLog: (_job, step, _stream, line) => ran.push(`${step}: ${line}`),
    });
    expect(result.result).toBe('success');
    // Step 4 counts two lines in counter.txt: steps 1–2 ran once, in the first run.
    expect(ran).toContain('fourth: counted-twice');
    expect(ran.some((l) => l.startsWith('first') || l.startsWith('second'))).toBe(false);
    const run = await w.store.workflowRuns.getRunDetail(runId);
    expect(run?.retryOf).toBe(failedRun);
    expect(run?.status).toBe('success');
    const steps = run?.jobs[0]?.steps ?? [];
    expect(steps.map((s) => [s.name, s.conclusion, s.carriedFrom])).toEqual([
      ['first', 'success', failedRun],
      ['second', 'success', failedRun],
      ['third', 'success', null],
      ['fourth', 'success', null],
    ]);
    expect(result.jobs[0]?.steps.map((s) => s.carriedFrom ?? null)).toEqual([
      failedRun,
      failedRun,
      null,
      null,
    ]);
    expect(w.manager.list()).toEqual([]);
  });

  it('says why a retry cannot start: unknown run, job or step, no snapshot', async (ctx) => {
    if (w.skip) ctx.skip();
    await expect(w.runs.retry('no-such-run')).rejects.toSatisfy(
      (e) => codeOf(e) === 'WORKFLOW_RUN_NOT_FOUND',
    );
    await expect(w.runs.retry(failedRun, { job: 'deploy' })).rejects.toSatisfy(
      (e) => codeOf(e) === 'WORKFLOW_JOB_NOT_FOUND',
    );
    await expect(w.runs.retry(failedRun, { fromStep: 9 })).rejects.toSatisfy(
      (e) => codeOf(e) === 'WORKFLOW_STEP_OUT_OF_RANGE',
    );
    await expect(w.runs.retry(failedRun, { fromStep: 0 })).rejects.toSatisfy(
      (e) => codeOf(e) === 'WORKFLOW_STEP_OUT_OF_RANGE',
    );
    writeFileSync(join(w.repo, 'config.txt'), 'bad\n');
    const off = await w.runs.execute({
      workflowContent: FOUR_STEPS,
      workflowPath: w.workflowPath,
      repositoryDir: w.repo,
      snapshots: 'none',
    });
    expect(await w.store.workflowRuns.listSnapshots({ runId: off.runId })).toEqual([]);
    const err = await w.runs.retry(off.runId, { fromStep: 3 }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe('WORKFLOW_SNAPSHOT_MISSING');
    expect((err as Error).message).toContain('snapshots were off');
  });

  it('names the legs of a matrix job when the job is ambiguous, and retries one leg alone', async (ctx) => {
    if (w.skip) ctx.skip();
    writeFileSync(join(w.repo, 'config.txt'), 'bad\n');
    const matrix = `on: push
jobs:
  m:
    runs-on: x
    strategy:
      fail-fast: false
      matrix:
        n: [1, 2]
    steps:
      - run: echo "leg \${{ matrix.n }}" > leg.txt
      - run: test "$(cat config.txt)" = good && cat leg.txt
`;
    const { runId } = await w.runs.execute({ workflowContent: matrix, repositoryDir: w.repo });
    const keys = (await w.store.workflowRuns.getRunDetail(runId))?.jobs.map((j) => j.legKey).sort();
    expect(keys).toEqual(['m[0]', 'm[1]']);
    for (const job of [undefined, 'm']) {
      const err = await w.runs.retry(runId, job ? { job } : {}).catch((e: unknown) => e);
      expect(codeOf(err)).toBe('WORKFLOW_JOB_AMBIGUOUS');
      expect((err as Error).message).toContain('m[0], m[1]');
    }
    writeFileSync(join(w.repo, 'config.txt'), 'good\n');
    const lines: string[] = [];
    const retry = await w.runs.retry(runId, {
      job: 'm[1]',
      onLog: (job, _s, _t, line) => lines.push(`${job} ${line}`),
    });
    expect(retry.result.result).toBe('success');
    expect(retry.result.jobs.map((j) => j.key)).toEqual(['m[1]']);
    expect(lines).toEqual(['m[1] leg 2']);
  });

  it('frees snapshots past the retention and with a deleted run, keeping the records', async (ctx) => {
    if (w.skip) ctx.skip();
    const before = await w.store.workflowRuns.listSnapshots({});
    expect(before.length).toBeGreaterThan(0);
    // Nothing is older than a week yet.
    expect(await w.runs.sweep()).toBe(0);
    // An hour past a week from now, every snapshot is past the retention.
    expect(await w.runs.sweep(Date.now() + 169 * 3_600_000)).toBe(before.length);
    for (const s of before) expect(existsSync(s.dir)).toBe(false);
    expect(readdirSync(w.snapshotsDir)).toEqual([]);
    const run = await w.store.workflowRuns.getRunDetail(failedRun);
    expect(run?.jobs[0]?.steps.map((s) => s.snapshotId)).toEqual([null, null, null, null]);
    const err = await w.runs.retry(failedRun, { fromStep: 3 }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe('WORKFLOW_SNAPSHOT_MISSING');

    writeFileSync(join(w.repo, 'config.txt'), 'bad\n');
    const fresh = await w.runs.execute({ workflowContent: FOUR_STEPS, repositoryDir: w.repo });
    const snaps = await w.store.workflowRuns.listSnapshots({ runId: fresh.runId });
    expect(snaps).toHaveLength(2);
    await w.runs.deleteRun(fresh.runId);
    for (const s of snaps) expect(existsSync(s.dir)).toBe(false);
    expect(await w.store.workflowRuns.getRun(fresh.runId)).toBeUndefined();
    await expect(w.runs.deleteRun(fresh.runId)).rejects.toSatisfy(
      (e) => codeOf(e) === 'WORKFLOW_RUN_NOT_FOUND',
    );
  });

  it('marks a run whose process died as failed, with its running job', async () => {
    await w.store.workflowRuns.insertRun({
      id: 'crashed-run',
      workflow: 'four',
      workflowPath: null,
      workflowContent: FOUR_STEPS,
      repositoryDir: null,
      repository: 'local/repository',
      event: 'push',
      eventPayload: {},
      inputs: {},
      vars: {},
      secretNames: [],
      backend: null,
      image: 'default',
      snapshots: 'every-step',
      status: 'running',
      error: null,
      retryOf: null,
      // No process has this pid (above the kernel's pid_max).
      ownerPid: 4_194_305,
      createdAtMs: Date.now(),
      startedAtMs: Date.now(),
      finishedAtMs: null,
    });
    await w.store.workflowRuns.upsertJob({
      runId: 'crashed-run',
      legKey: 'build',
      jobId: 'build',
      name: 'build',
      result: 'running',
      sandboxId: null,
      startedAtMs: Date.now(),
      durationMs: null,
      error: null,
      outputs: {},
    });
    // Not deleted while it counts as running.
    await expect(w.runs.deleteRun('crashed-run')).rejects.toSatisfy(
      (e) => codeOf(e) === 'WORKFLOW_RUN_ACTIVE',
    );
    await w.runs.recover();
    const run = await w.store.workflowRuns.getRunDetail('crashed-run');
    expect(run?.status).toBe('failure');
    expect(run?.error).toContain('pid 4194305');
    expect(run?.jobs[0]?.result).toBe('failure');
  });
});
