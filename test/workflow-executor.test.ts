/**
 * The workflow executor on real bwrap sandboxes through a real SandboxManager and SQLite store.
 * Allocations are counted through the manager: the sandbox ids on its exec events, its
 * `sandbox.ended` events, and the sandboxes it still holds.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxManager } from '../src/sandboxes/manager.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { executeWorkflow } from '../src/workflows/executor/index.js';
import { hashFilesInDirectory } from '../src/workflows/hash-files.js';
import { parseWorkflow } from '../src/workflows/parse.js';
import { bwrapManager } from './bwrap-world.js';
import { settledLeftovers } from './leak-check.js';

let dir: string;
let repo: string;
let store: SqliteStore;
let manager: SandboxManager;
let skip: string | undefined;

function newManager(slots?: number) {
  return bwrapManager(store, dir, slots);
}

/** Every sandbox a manager allocated (seen on an exec) and every one it released, in order. */
function watch(m: SandboxManager) {
  const log: Array<{ kind: 'exec' | 'ended'; sandboxId: string; labels: Record<string, string> }> = [];
  m.events.on('exec.started', (e) => log.push({ kind: 'exec', sandboxId: e.sandboxId, labels: e.labels }));
  m.events.on('sandbox.ended', (e) => log.push({ kind: 'ended', sandboxId: e.sandboxId, labels: e.labels }));
  return {
    log,
    used: (runId?: string) =>
      new Set(
        log
          .filter((l) => l.kind === 'exec' && (!runId || l.labels.workflow_run === runId))
          .map((l) => l.sandboxId),
      ),
    ended: () => new Set(log.filter((l) => l.kind === 'ended').map((l) => l.sandboxId)),
  };
}

/** Runs a workflow and keeps the lines its steps print. */
async function runLogged(o: Omit<Parameters<typeof executeWorkflow>[0], 'onLog'>) {
  const lines: string[] = [];
  const r = await executeWorkflow({ ...o, onLog: (_j, _s, _t, line) => lines.push(line) });
  return { r, lines };
}

const parse = (content: string) => parseWorkflow({ file: '.github/workflows/ci.yml', content });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-wf-exec-'));
  repo = join(dir, 'repo');
  mkdirSync(join(repo, 'src'), { recursive: true });
  writeFileSync(join(repo, 'README.md'), 'hello from the repository\n');
  writeFileSync(join(repo, 'src', 'tool.sh'), '#!/bin/sh\necho tool-ran\n', { mode: 0o755 });
  store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
  manager = newManager();
  const probe = (await manager.backends.default()).probe;
  if (!probe.usable) skip = probe.reason;
});

afterAll(async () => {
  await manager?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
  expect(await settledLeftovers({ settleMs: 3000 })).toEqual([]);
});

describe('workflow executor', () => {
  it('runs 5 steps of one job in exactly one sandbox, with the repository in the workspace', async (ctx) => {
    if (skip) ctx.skip();
    const w = watch(manager);
    const lines: string[] = [];
    const wf = await parse(`
name: five
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: cat README.md
      - run: ./src/tool.sh
      - run: echo "ws=$GITHUB_WORKSPACE"
      - run: echo five > made.txt
      - run: cat made.txt
      - run: echo "hash=\${{ hashFiles('**/*.md', 'src/**') }}"
`);
    const r = await executeWorkflow({
      manager,
      workflow: wf,
      repositoryDir: repo,
      repository: 'acme/app',
      runId: 'run-five',
      onLog: (job, _step, stream, line) => lines.push(`${job} ${stream} ${line}`),
    });
    expect(r.result).toBe('success');
    const [job] = r.jobs;
    expect(job?.steps.map((s) => s.outcome)).toEqual(Array(7).fill('success'));
    // hashFiles() reads the workspace in the sandbox: the same digest as of the host's copy.
    const hash = await hashFilesInDirectory(repo, ['**/*.md', 'src/**']);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(lines).toContain(`build stdout hash=${hash}`);
    expect(lines).toContain('build stdout hello from the repository');
    expect(lines).toContain('build stdout tool-ran');
    expect(lines).toContain('build stdout ws=/home/user');
    expect(lines).toContain('build stdout five');
    const used = w.used('run-five');
    expect(used.size).toBe(1);
    expect([...used]).toEqual([job?.sandboxId]);
    expect(w.ended().has(job?.sandboxId as string)).toBe(true);
    expect(manager.list()).toEqual([]);
    // Every step's exec carries the labels the learning recorder reads.
    const labels = w.log.find((l) => l.kind === 'exec')?.labels;
    expect(labels).toMatchObject({
      repository: 'acme/app',
      workflow: 'five',
      workflow_job: 'build',
      workflow_run: 'run-five',
    });
  });

  it('runs 3 workflows in parallel in 3 distinct sandboxes', async (ctx) => {
    if (skip) ctx.skip();
    const w = watch(manager);
    const wf = await parse(
      'on: push\njobs:\n  one:\n    runs-on: x\n    steps:\n      - run: echo a\n      - run: echo b\n',
    );
    const runs = await Promise.all(
      ['p1', 'p2', 'p3'].map((runId) => executeWorkflow({ manager, workflow: wf, runId })),
    );
    expect(runs.map((r) => r.result)).toEqual(['success', 'success', 'success']);
    const ids = runs.map((r) => r.jobs[0]?.sandboxId);
    expect(new Set(ids).size).toBe(3);
    for (const [i, runId] of ['p1', 'p2', 'p3'].entries()) expect([...w.used(runId)]).toEqual([ids[i]]);
    expect(manager.list()).toEqual([]);
  });

  it('with 2 sandbox slots, a third workflow waits for a release and then runs', async (ctx) => {
    if (skip) ctx.skip();
    const limited = newManager(2);
    try {
      const w = watch(limited);
      let most = 0;
      limited.events.on('exec.started', () => {
        most = Math.max(most, limited.list().length);
      });
      const wf = await parse(
        'on: push\njobs:\n  one:\n    runs-on: x\n    steps:\n      - run: sleep 0.5\n      - run: echo done\n',
      );
      const runs = await Promise.all(
        ['s1', 's2', 's3'].map((runId) =>
          executeWorkflow({ manager: limited, workflow: wf, runId, slot: 'short' }),
        ),
      );
      expect(runs.map((r) => r.result)).toEqual(['success', 'success', 'success']);
      expect(new Set(runs.map((r) => r.jobs[0]?.sandboxId)).size).toBe(3);
      expect(most).toBe(2);
      // The sandbox that ran last had its first exec only after another was released.
      const firstExec = (id: string) => w.log.findIndex((l) => l.kind === 'exec' && l.sandboxId === id);
      const firstEnd = w.log.findIndex((l) => l.kind === 'ended');
      const lastStarted = Math.max(...runs.map((r) => firstExec(r.jobs[0]?.sandboxId as string)));
      expect(firstEnd).toBeGreaterThanOrEqual(0);
      expect(lastStarted).toBeGreaterThan(firstEnd);
      expect(limited.list()).toEqual([]);
    } finally {
      await limited.close();
    }
  });

  it('after a failing step skips the rest, runs if: always() steps and releases the sandbox', async (ctx) => {
    if (skip) ctx.skip();
    const w = watch(manager);
    const wf = await parse(`
on: push
jobs:
  build:
    runs-on: x
    steps:
      - run: echo first
      - id: broken
        run: exit 3
      - run: echo never
      - if: failure()
        run: echo "outcome=\${{ steps.broken.outcome }}"
      - if: always()
        run: echo cleanup
`);
    const { r, lines } = await runLogged({
      manager,
      workflow: wf,
      runId: 'fail',
    });
    expect(r.result).toBe('failure');
    const job = r.jobs[0];
    expect(job?.result).toBe('failure');
    expect(job?.steps.map((s) => s.outcome)).toEqual(['success', 'failure', 'skipped', 'success', 'success']);
    expect(job?.steps[1]?.exitCode).toBe(3);
    expect(lines).toContain('outcome=failure');
    expect(lines).toContain('cleanup');
    expect(lines).not.toContain('never');
    expect(w.used('fail').size).toBe(1);
    expect(w.ended().has(job?.sandboxId as string)).toBe(true);
    expect(manager.list()).toEqual([]);
  });

  it('goes on after a failing step with continue-on-error', async (ctx) => {
    if (skip) ctx.skip();
    const wf = await parse(`
on: push
jobs:
  build:
    runs-on: x
    steps:
      - id: soft
        continue-on-error: true
        run: exit 1
      - run: echo "\${{ steps.soft.outcome }}/\${{ steps.soft.conclusion }}"
      - run: echo '\${{ steps.soft.outcome }}' | grep 'failure' | sed 's/fail/FAIL/'
`);
    const { r, lines } = await runLogged({ manager, workflow: wf });
    expect(r.result).toBe('success');
    expect(r.jobs[0]?.steps.map((s) => [s.outcome, s.conclusion])).toEqual([
      ['failure', 'success'],
      ['success', 'success'],
      ['success', 'success'],
    ]);
    expect(lines).toContain('failure/success');
    // Every '' in the script's quoting survives the expression around it.
    expect(lines).toContain('FAILure');
  });

  it('passes GITHUB_ENV, GITHUB_OUTPUT (multi-line too), GITHUB_PATH and outputs between steps and jobs', async (ctx) => {
    if (skip) ctx.skip();
    const wf = await parse(`
on: push
env:
  LEVEL: workflow
jobs:
  first:
    runs-on: x
    outputs:
      greeting: \${{ steps.out.outputs.greeting }}
    env:
      JOB_VAR: job
    steps:
      - run: |
          echo "FROM_ENV=set by step one" >> "$GITHUB_ENV"
          mkdir -p "$HOME/bin" && printf '#!/bin/sh\\necho mytool-ok\\n' > "$HOME/bin/mytool" && chmod +x "$HOME/bin/mytool"
          echo "$HOME/bin" >> "$GITHUB_PATH"
          echo "## summary" >> "$GITHUB_STEP_SUMMARY"
      - id: out
        run: |
          echo "greeting=hello" >> "$GITHUB_OUTPUT"
          { echo "multi<<EOF"; echo "line one"; echo "line two"; echo "EOF"; } >> "$GITHUB_OUTPUT"
      - env:
          STEP_VAR: \${{ steps.out.outputs.greeting }}-step
        run: |
          echo "env=$FROM_ENV|$LEVEL|$JOB_VAR|$STEP_VAR"
          mytool
          echo "multi=\${{ steps.out.outputs.multi }}"
  second:
    needs: first
    runs-on: x
    steps:
      - run: echo "needs=\${{ needs.first.result }}:\${{ needs.first.outputs.greeting }}"
`);
    const lines: string[] = [];
    const r = await executeWorkflow({
      manager,
      workflow: wf,
      onLog: (j, _s, _t, l) => lines.push(`${j}:${l}`),
    });
    expect(r.result).toBe('success');
    const first = r.jobs.find((j) => j.jobId === 'first');
    expect(first?.outputs).toEqual({ greeting: 'hello' });
    expect(first?.steps[0]?.summary).toBe('## summary\n');
    expect(first?.steps[1]?.outputs).toEqual({ greeting: 'hello', multi: 'line one\nline two' });
    expect(lines).toContain('first:env=set by step one|workflow|job|hello-step');
    expect(lines).toContain('first:mytool-ok');
    expect(lines).toContain('first:multi=line one');
    expect(lines).toContain('first:line two');
    expect(lines).toContain('second:needs=success:hello');
    expect(first?.sandboxId).not.toBe(r.jobs.find((j) => j.jobId === 'second')?.sandboxId);
  });

  it('stops a step at its timeout-minutes and fails the job', async (ctx) => {
    if (skip) ctx.skip();
    const wf = await parse(`
on: push
jobs:
  slow:
    runs-on: x
    steps:
      - timeout-minutes: 0.02
        run: sleep 30
      - if: always()
        run: echo after
`);
    const r = await executeWorkflow({ manager, workflow: wf });
    expect(r.result).toBe('failure');
    const steps = r.jobs[0]?.steps;
    expect(steps?.[0]).toMatchObject({ outcome: 'failure', timedOut: true });
    expect(steps?.[1]?.outcome).toBe('success');
    expect(manager.list()).toEqual([]);
  });

  it('fails a uses: step it cannot run, naming the action', async (ctx) => {
    if (skip) ctx.skip();
    const wf = await parse(
      'on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: acme/missing-action@v4\n',
    );
    const r = await executeWorkflow({ manager, workflow: wf });
    expect(r.result).toBe('failure');
    expect(r.jobs[0]?.steps[0]?.error).toContain("'acme/missing-action@v4'");
    expect(manager.list()).toEqual([]);
  });

  it('stops a job at its timeout-minutes, still runs its always() step, and releases the sandbox', async (ctx) => {
    if (skip) ctx.skip();
    const w = watch(manager);
    const wf = await parse(`
on: push
jobs:
  slow:
    runs-on: x
    timeout-minutes: 0.02
    steps:
      - run: sleep 30
      - run: echo never
      - if: always()
        run: echo cleanup
`);
    const { r, lines } = await runLogged({
      manager,
      workflow: wf,
      runId: 'job-timeout',
    });
    expect(r.result).toBe('failure');
    const job = r.jobs[0];
    expect(job?.error).toContain('timeout');
    expect(job?.steps.map((s) => s.outcome)).toEqual(['cancelled', 'skipped', 'success']);
    expect(lines).toContain('cleanup');
    expect(w.ended().has(job?.sandboxId as string)).toBe(true);
    expect(manager.list()).toEqual([]);
  });

  it('cancels a run: the running step is killed, cancelled() steps run, the sandbox is released', async (ctx) => {
    if (skip) ctx.skip();
    const w = watch(manager);
    const wf = await parse(`
on: push
jobs:
  long:
    runs-on: x
    steps:
      - run: echo started && sleep 30
      - run: echo never
      - if: cancelled()
        run: echo was-cancelled
`);
    const ctrl = new AbortController();
    const lines: string[] = [];
    const r = await executeWorkflow({
      manager,
      workflow: wf,
      runId: 'cancel',
      signal: ctrl.signal,
      onLog: (_j, _s, _t, l) => {
        lines.push(l);
        if (l === 'started') ctrl.abort();
      },
    });
    expect(r.result).toBe('cancelled');
    expect(r.jobs[0]?.result).toBe('cancelled');
    expect(r.jobs[0]?.steps.map((s) => s.outcome)).toEqual(['cancelled', 'skipped', 'success']);
    expect(lines).toContain('was-cancelled');
    expect(w.ended().has(r.jobs[0]?.sandboxId as string)).toBe(true);
    expect(manager.list()).toEqual([]);
  });

  it('fails the job when a step kills everything in its sandbox, and releases it', async (ctx) => {
    if (skip) ctx.skip();
    const w = watch(manager);
    const wf = await parse(`
on: push
jobs:
  rogue:
    runs-on: x
    steps:
      - run: kill -9 -1; sleep 5
      - if: always()
        run: echo after
`);
    const r = await executeWorkflow({ manager, workflow: wf, runId: 'rogue' });
    expect(r.result).toBe('failure');
    expect(r.jobs[0]?.steps[0]?.outcome).toBe('failure');
    expect(w.used('rogue').size).toBe(1);
    expect(w.ended().has(r.jobs[0]?.sandboxId as string)).toBe(true);
    expect(manager.list()).toEqual([]);
  });

  it('gives each matrix leg its own sandbox, with working-directory, defaults.run and shells', async (ctx) => {
    if (skip) ctx.skip();
    const w = watch(manager);
    const wf = await parse(`
on: push
defaults:
  run:
    shell: sh
jobs:
  legs:
    runs-on: x
    strategy:
      matrix:
        n: [1, 2, 3]
    defaults:
      run:
        working-directory: src
    steps:
      - run: echo "leg=\${{ matrix.n }} dir=$(basename "$PWD") shell=$(readlink /proc/$$/exe)"
      # The default image has python3 only; \`shell: python\` would need a python on PATH.
      - shell: python3 {0}
        working-directory: .
        run: |
          import os
          print("py", os.path.exists("README.md"), \${{ matrix.n }} * 10)
`);
    const lines: string[] = [];
    const r = await executeWorkflow({
      manager,
      workflow: wf,
      runId: 'matrix',
      repositoryDir: repo,
      onLog: (j, _s, _t, l) => lines.push(`${j} ${l}`),
    });
    expect(r.result).toBe('success');
    expect(r.jobs.map((j) => j.key).sort()).toEqual(['legs[0]', 'legs[1]', 'legs[2]']);
    const ids = new Set(r.jobs.map((j) => j.sandboxId));
    expect(ids.size).toBe(3);
    expect(w.used('matrix')).toEqual(ids);
    for (const [i, n] of [1, 2, 3].entries()) {
      expect(lines.find((l) => l.startsWith(`legs[${i}] leg=${n} dir=src shell=`))).toMatch(/(dash|sh)$/);
      expect(lines).toContain(`legs[${i}] py True ${n * 10}`);
    }
    expect(manager.list()).toEqual([]);
  });
});
