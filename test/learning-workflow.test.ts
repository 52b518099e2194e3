/**
 * Workflow runs and the command knowledge graph, on real bwrap sandboxes with a real SandboxManager,
 * SQLite store and LearningService: a run's step commands land in the graph (recorded from the
 * manager's exec events), and a step carries the graph's prediction and lessons before it runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LearningService } from '../src/learning/service.js';
import type { SandboxManager } from '../src/sandboxes/manager.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { executeWorkflow } from '../src/workflows/executor/index.js';
import { parseWorkflow } from '../src/workflows/parse.js';
import { bwrapManager } from './bwrap-world.js';
import { settledLeftovers } from './leak-check.js';

let dir: string;
let store: SqliteStore;
let manager: SandboxManager;
let learning: LearningService;

const WORKFLOW = `
name: build
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: mkdir -p out && echo built > out/a.txt
      - id: check
        run: grep -q shipped out/a.txt
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-learning-workflow-'));
  store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
  manager = bwrapManager(store, dir);
  learning = new LearningService({ store: store.learning });
  await learning.start(manager.events);
});

afterAll(async () => {
  await learning?.close();
  await manager?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
  expect(await settledLeftovers()).toEqual([]);
});

describe('workflow runs in the command knowledge graph', () => {
  it("records a run's step commands, and turns a step failing three times into a lesson on its next run", async () => {
    const workflow = await parseWorkflow({ file: '.github/workflows/build.yml', content: WORKFLOW });
    const run = () =>
      executeWorkflow({ manager, workflow, repository: 'acme/app', advisor: learning.knowledge });
    const first = await run();
    expect(first.result).toBe('failure');
    const advice = first.jobs[0]?.steps[1]?.advice;
    expect(advice).toMatchObject({ command: 'grep', previous: 'echo', basis: 'prior', evidence: 0 });
    await learning.recorder.flush();
    // The step's commands, not the shell that ran its script file.
    const commands = (await learning.commands()).commands.map((c) => c.command);
    expect(commands).toEqual(expect.arrayContaining(['mkdir', 'echo', 'grep']));
    expect(commands).not.toContain('bash');
    const grep = await learning.knowledge.predictSuccess('grep', 'echo');
    expect(grep).toMatchObject({ basis: 'edge', successes: 0, failures: 1 });

    await run();
    await run();
    await learning.recorder.flush();
    const fourth = await run();
    const step = fourth.jobs[0]?.steps[1];
    expect(step?.conclusion).toBe('failure');
    // Three failures seen before this run: (0 + 1) / (3 + 2) on the edge echo → grep, and one lesson.
    expect(step?.advice).toMatchObject({ command: 'grep', previous: 'echo', basis: 'edge', evidence: 3 });
    expect(step?.advice?.probability).toBeCloseTo(1 / 5, 10);
    expect(step?.advice?.lessons).toHaveLength(1);
    expect(step?.advice?.lessons[0]).toMatchObject({ occurrences: 3, confidence: 0.85 });
    // The first step's advice rests on its own successes.
    expect(fourth.jobs[0]?.steps[0]?.advice).toMatchObject({ command: 'echo', previous: 'mkdir' });
  }, 120_000);
});
