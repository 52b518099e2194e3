/**
 * The workflow executor on real bwrap sandboxes through a real SandboxManager and SQLite store.
 * Allocations are counted through the manager: the sandbox ids on its exec events, its
 * `sandbox.ended` events, and the sandboxes it still holds.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hearthPaths } from '../src/config/paths.js';
import { jobsConfig } from '../src/jobs/config.js';
import { managerConfigFor } from '../src/jobs/service.js';
import { SandboxManager } from '../src/sandboxes/manager.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { executeWorkflow } from '../src/workflows/executor/index.js';
import { parseWorkflow } from '../src/workflows/parse.js';
import { settledLeftovers } from './leak-check.js';

let dir: string;
let repo: string;
let store: SqliteStore;
let manager: SandboxManager;
let skip: string | undefined;

function newManager(slots?: number) {
  const config = managerConfigFor({ ...jobsConfig(), defaultBackend: 'bwrap' });
  const paths = { ...hearthPaths(), db: join(dir, 'hearth.db'), snapshots: join(dir, 'snapshots') };
  return new SandboxManager({
    config: { ...config, poolSize: 0, ...(slots ? { slots } : {}) },
    ledger: store.ledger,
    rows: store.sandboxes,
    paths,
  });
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
    expect(job?.steps.map((s) => s.outcome)).toEqual(Array(6).fill('success'));
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
});
