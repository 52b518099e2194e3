/**
 * A recorded-runs world for tests: a SQLite store, a bwrap SandboxManager and WorkflowRuns on a
 * temp directory, and a repository whose step 3 reads `config.txt` (`bad` fails it, `good` passes).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SandboxManager } from '../src/sandboxes/manager.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { WorkflowRuns } from '../src/workflows/runs/workflow-runs.js';
import { bwrapManager } from './bwrap-world.js';

/**
 * Steps 1–2 append to counter.txt (and leave files); 3 reads the repository's config.txt; 4 checks
 * the counter and that the job's env has the TOKEN secret.
 */
export const FOUR_STEPS = `name: four
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    env:
      TOKEN: \${{ secrets.TOKEN }}
    steps:
      - name: first
        run: echo one >> counter.txt && mkdir -p out && echo built > out/a.txt
      - name: second
        run: |
          echo two >> counter.txt
          echo "FROM_TWO=yes" >> "$GITHUB_ENV"
      - name: third
        run: test "$(cat config.txt)" = good && test "$FROM_TWO" = yes
      - name: fourth
        run: test "$(wc -l < counter.txt)" -eq 2 && test -n "$TOKEN" && echo counted-twice
`;

export interface RunsWorld {
  dir: string;
  repo: string;
  workflowPath: string;
  store: SqliteStore;
  manager: SandboxManager;
  runs: WorkflowRuns;
  snapshotsDir: string;
  /** Why bwrap cannot run here, if it cannot. */
  skip: string | undefined;
  close(): Promise<void>;
}

export async function openRunsWorld(o: { retentionHours?: number } = {}): Promise<RunsWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-wf-runs-'));
  const repo = join(dir, 'repo');
  mkdirSync(join(repo, '.github', 'workflows'), { recursive: true });
  const workflowPath = join(repo, '.github', 'workflows', 'four.yml');
  writeFileSync(workflowPath, FOUR_STEPS);
  writeFileSync(join(repo, 'config.txt'), 'bad\n');
  const store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
  const manager = bwrapManager(store, dir);
  const probe = (await manager.backends.default()).probe;
  const snapshotsDir = join(dir, 'workflow-snapshots');
  const runs = new WorkflowRuns({
    store: store.workflowRuns,
    manager,
    snapshotsDir,
    ...(o.retentionHours !== undefined ? { retentionHours: o.retentionHours } : {}),
  });
  return {
    dir,
    repo,
    workflowPath,
    store,
    manager,
    runs,
    snapshotsDir,
    skip: probe.usable ? undefined : probe.reason,
    close: async () => {
      await manager.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
