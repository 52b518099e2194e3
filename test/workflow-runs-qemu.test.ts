/**
 * One recorded run on a qemu microVM: its step snapshots are memory snapshots, and a retry from
 * step 3 resumes the VM saved after step 2 (a file steps 1–2 wrote under /tmp is there, the steps
 * are not run again). Skipped, with the probe's reason, where QEMU cannot run.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settledLeftovers } from './leak-check.js';
import { ourQemuPids } from './qemu-fixture.js';
import { openRunsWorld, type RunsWorld } from './workflow-runs-fixture.js';

const WORKFLOW = `name: vm
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo one >> /tmp/counter
      - run: echo two >> /tmp/counter
      - run: test "$(cat config.txt)" = good
      - run: test "$(wc -l < /tmp/counter)" -eq 2 && echo vm-counted-twice
`;

let w: RunsWorld;
let skip: string | undefined;

beforeAll(async () => {
  w = await openRunsWorld();
  const probe = (await w.manager.backends.get('qemu')).probe;
  skip = probe.usable ? undefined : probe.reason;
});

afterAll(async () => {
  await w?.close();
  expect(ourQemuPids()).toEqual([]);
  expect(await settledLeftovers({ settleMs: 3000 })).toEqual([]);
}, 120_000);

describe('recorded runs on qemu', () => {
  it('takes memory snapshots and retries from step 3 in the VM saved after step 2', async (ctx) => {
    if (skip) ctx.skip();
    writeFileSync(join(w.repo, 'config.txt'), 'bad\n');
    const first = await w.runs.execute({ workflowContent: WORKFLOW, repositoryDir: w.repo, backend: 'qemu' });
    expect(first.result.result).toBe('failure');
    const snaps = await w.store.workflowRuns.listSnapshots({ runId: first.runId });
    expect(snaps.map((s) => [s.stepIndex, s.kind])).toEqual([
      [0, 'memory'],
      [1, 'memory'],
    ]);
    writeFileSync(join(w.repo, 'config.txt'), 'good\n');
    const lines: string[] = [];
    const retry = await w.runs.retry(first.runId, {
      fromStep: 3,
      onLog: (_job, _step, _stream, line) => lines.push(line),
    });
    expect(retry.result.result).toBe('success');
    expect(lines).toContain('vm-counted-twice');
    expect(retry.result.jobs[0]?.steps.map((s) => s.carriedFrom ?? null)).toEqual([
      first.runId,
      first.runId,
      null,
      null,
    ]);
    await w.runs.deleteRun(first.runId);
    await w.runs.deleteRun(retry.runId);
    expect(w.manager.list()).toEqual([]);
  }, 600_000);
});
