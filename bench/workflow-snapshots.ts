/**
 * The cost of a step snapshot: a recorded run of N `run: true` steps with a snapshot after every
 * step against the same run with none, alternately (so both see the same load), on bwrap
 * (filesystem snapshots: a tar of the writable mounts) and qemu (memory snapshots). Reported per
 * step, and as the ratio of the two runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hearthPaths } from '../src/config/paths.js';
import { jobsConfig } from '../src/jobs/config.js';
import { managerConfigFor } from '../src/jobs/service.js';
import { SandboxManager } from '../src/sandboxes/manager.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { WorkflowRuns } from '../src/workflows/runs/workflow-runs.js';
import { ms, paired, ratio, report } from './lib.js';

const G = 'workflow';
const STEPS = 5;
const WORKFLOW = `name: snapshots
on: push
jobs:
  steps:
    runs-on: ubuntu-latest
    steps:
${'      - run: true\n'.repeat(STEPS)}`;

async function onBackend(backend: 'bwrap' | 'qemu', samples: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-wf-snap-'));
  const store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
  const manager = new SandboxManager({
    config: { ...managerConfigFor(jobsConfig()), poolSize: 0 },
    ledger: store.ledger,
    rows: store.sandboxes,
    paths: { ...hearthPaths(), db: join(dir, 'hearth.db'), snapshots: join(dir, 'snapshots') },
  });
  const runs = new WorkflowRuns({
    store: store.workflowRuns,
    manager,
    snapshotsDir: join(dir, 'wf-snapshots'),
  });
  let sizes = 0;
  let taken = 0;
  const run = (snapshots: 'every-step' | 'none') => async () => {
    const { runId, result } = await runs.execute({ workflowContent: WORKFLOW, backend, snapshots });
    if (result.result !== 'success') throw new Error(`${backend}: the run ended ${result.result}`);
    for (const s of await store.workflowRuns.listSnapshots({ runId })) {
      sizes += s.sizeBytes;
      taken++;
    }
    await runs.deleteRun(runId);
  };
  try {
    const [every, none] = await paired(samples, run('every-step'), run('none'));
    const perStep = (every.p50 - none.p50) / STEPS;
    report({
      group: G,
      name: `${backend}: step snapshot (${STEPS} steps, per step)`,
      value: ms(perStep),
      ratio: ratio(every.p50, none.p50, `run without snapshots (${ms(none.p50)})`),
    });
    report({
      group: G,
      name: `${backend}: step snapshot size`,
      value: `${(sizes / Math.max(1, taken) / 1024).toFixed(0)} KiB`,
    });
  } finally {
    await manager.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function workflowSnapshots(): Promise<void> {
  await onBackend('bwrap', 5);
  try {
    await onBackend('qemu', 2);
  } catch (err) {
    process.stdout.write(`${G}: qemu skipped: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}
