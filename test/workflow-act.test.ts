/**
 * Strict-tier act fixtures (../shared/conformance/act: `run:` steps only) run end to end on bwrap
 * sandboxes, each run's result compared with act's EXPECTED.tsv (a workflow the parser refuses counts
 * as an error). act's own environment is given as act gives it: ACT=true in every step's env.
 *
 * Left out, and why:
 * - workdir: expects the container's /root as a working directory (act runs as root; hearth does not).
 * - runs-on, issue-1195: assert act's own actor and owner values (nektos/act).
 * - secrets, input-from-cli, workflow_dispatch, workflow_call_inputs, matrix-with-user-inclusions:
 *   need act's command-line inputs (secrets, event.json, --input, --matrix): workflow-act-cli.test.ts
 *   replays them through `hearth workflow run`.
 * - networking: needs apt and the network.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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
import { ACT } from './act-corpus.js';
import { settledLeftovers } from './leak-check.js';

const FIXTURES = [
  'commands',
  'defaults-run',
  'dir with spaces',
  'env-and-path',
  'environment-files',
  'environment-files-parser-bug',
  'environment-variables',
  'evalenv',
  'evalmatrix',
  'evalmatrix-merge-array',
  'evalmatrix-merge-map',
  'evalmatrixneeds',
  'evalmatrixneeds2',
  'if-env-act',
  'issue-1595',
  'job-needs-context-contains-result',
  'job-nil-step',
  'job-status-check',
  'matrix',
  'matrix-exitcode',
  'matrix-include-exclude',
  'nix-prepend-path',
  'outputs',
  'set-env-new-env-file-per-step',
  'steps-context/conclusion',
  'steps-context/outcome',
  'strategy',
  'uses-github-empty',
  'workflow_dispatch-scalar',
  'workflow_dispatch_no_inputs_mapping',
];

let dir: string;
let store: SqliteStore;
let manager: SandboxManager;
let skip: string | undefined;

function expected(name: string): string | undefined {
  for (const line of readFileSync(join(ACT, 'EXPECTED.tsv'), 'utf8').split('\n')) {
    const cols = line.split('\t');
    if (cols[0] !== name || cols[7] !== name) continue;
    const want = cols[2] ?? '';
    return want.startsWith('error') ? 'failure' : want.includes('success') ? 'success' : want;
  }
  return undefined;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-wf-act-'));
  store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
  manager = new SandboxManager({
    config: { ...managerConfigFor({ ...jobsConfig(), defaultBackend: 'bwrap' }), poolSize: 0 },
    ledger: store.ledger,
    rows: store.sandboxes,
    paths: { ...hearthPaths(), db: join(dir, 'hearth.db') },
  });
  const probe = (await manager.backends.default()).probe;
  if (!probe.usable) skip = probe.reason;
  if (!existsSync(join(ACT, 'EXPECTED.tsv'))) skip = `no act corpus at ${ACT}`;
});

afterAll(async () => {
  await manager?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
  expect(await settledLeftovers({ settleMs: 3000 })).toEqual([]);
});

describe('act fixtures', () => {
  it.for(FIXTURES)('%s', async (name, ctx) => {
    if (skip) ctx.skip();
    const fixture = join(ACT, name);
    const file = readdirSync(fixture).find((f) => /\.ya?ml$/.test(f)) as string;
    const lines: string[] = [];
    let result: string;
    try {
      const workflow = await parseWorkflow({ file, content: readFileSync(join(fixture, file), 'utf8') });
      const r = await executeWorkflow({
        manager,
        workflow,
        repositoryDir: fixture,
        env: { ACT: 'true' },
        onLog: (j, st, _t, l) => lines.push(`[${j}] ${st}: ${l}`),
      });
      result = r.result;
    } catch (err) {
      lines.push(String(err));
      result = 'failure';
    }
    if (result !== expected(name)) console.log(lines.join('\n'));
    expect(expected(name)).toBeDefined();
    expect(result).toBe(expected(name));
    expect(manager.list()).toEqual([]);
  });
});
