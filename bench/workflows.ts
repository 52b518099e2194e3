/**
 * The workflow executor's host overhead per step on bwrap, in-process through a real SandboxManager
 * and SQLite store: a job of 1 `run: true` step and a job of 21, timed alternately so both see the
 * same host load; the per-step cost is the difference of their p50s over 20. The floor, measured in
 * the same run: a bare exec of `true` through the manager in an already acquired sandbox.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hearthPaths } from '../src/config/paths.js';
import { jobsConfig } from '../src/jobs/config.js';
import { managerConfigFor } from '../src/jobs/service.js';
import { SandboxManager } from '../src/sandboxes/manager.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { executeWorkflow } from '../src/workflows/executor/index.js';
import { parseWorkflow } from '../src/workflows/parse.js';
import { ms, paired, pct, ratio, report, sample } from './lib.js';

const G = 'workflow';
const PAIRS = 12;
const EXEC_SAMPLES = 100;
/** Issue 10's target for a trivial step's overhead on bwrap. */
const TARGET_STEP_MS = 20;

const workflowOf = (steps: number) =>
  parseWorkflow({
    file: `steps-${steps}.yml`,
    content: `on: push\njobs:\n  bench:\n    runs-on: ubuntu-latest\n    steps:\n${'      - run: true\n'.repeat(steps)}`,
  });

export default async function workflows(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-wf-'));
  const store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
  const manager = new SandboxManager({
    config: { ...managerConfigFor({ ...jobsConfig(), defaultBackend: 'bwrap' }), poolSize: 0 },
    ledger: store.ledger,
    rows: store.sandboxes,
    paths: { ...hearthPaths(), db: join(dir, 'hearth.db') },
  });
  try {
    const probe = (await manager.backends.default()).probe;
    if (!probe.usable) throw new Error(`bwrap is not usable: ${probe.reason}`);
    const one = await workflowOf(1);
    const many = await workflowOf(21);
    const runJob = async (workflow: typeof one) => {
      const r = await executeWorkflow({ manager, workflow });
      if (r.result !== 'success') throw new Error(`the bench workflow ${workflow.file} ended ${r.result}`);
    };
    const [oneStep, manySteps] = await paired(
      PAIRS,
      () => runJob(one),
      () => runJob(many),
    );
    const perStepMs = (manySteps.p50 - oneStep.p50) / 20;
    const sandbox = await manager.acquire({ image: 'default', slot: 'long', labels: { bench: G } });
    let exec: Awaited<ReturnType<typeof sample>>;
    try {
      exec = await sample(EXEC_SAMPLES, () => sandbox.run({ argv: ['true'] }), 5);
    } finally {
      await sandbox.release();
    }
    report({ group: G, name: 'job of 1 `run: true` step (bwrap)', value: pct(oneStep) });
    report({ group: G, name: 'job of 21 `run: true` steps (bwrap)', value: pct(manySteps) });
    report({ group: G, name: 'manager exec of `true` (floor)', value: pct(exec) });
    report({
      group: G,
      name: 'trivial step overhead (bwrap, per step)',
      value: ms(perStepMs),
      ratio: ratio(perStepMs, exec.p50, 'floor (manager exec true)'),
      target: `≤ ${ms(TARGET_STEP_MS)}`,
      met: perStepMs <= TARGET_STEP_MS,
    });
  } finally {
    await manager.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
