/**
 * Every strict-tier act fixture (../shared/conformance/act: `run:` steps only, 48 files) and the
 * _inline_composite tier (`uses: ./` of an action.yml an earlier step writes) run end to end on bwrap
 * sandboxes; each run's result is compared with act's EXPECTED.tsv (a workflow the parser or planner
 * refuses counts as a failure, as act's plan-only rows count an error). act's own environment is given
 * as act gives it: ACT=true in every step's env, github.actor 'nektos/act', repository_owner 'nektos',
 * and the event.json payloads the corpus transcribes.
 *
 * Where hearth and act disagree the fixture is listed, with why, in
 * test/conformance/workflow-act-disagreements.tsv; this test fails if a listed fixture agrees, an
 * unlisted one disagrees, or fewer than 90% of the strict fixtures agree.
 *
 * Left out here: the fixtures that need act's command-line inputs (CLI_FIXTURES: secrets, --input,
 * event.json inputs, --matrix), which test/workflow-act-cli.test.ts replays through `hearth workflow run`.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxManager } from '../src/sandboxes/manager.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { executeWorkflow } from '../src/workflows/executor/index.js';
import type { Value } from '../src/workflows/expressions.js';
import { parseWorkflow } from '../src/workflows/parse.js';
import { ACT } from './act-corpus.js';
import { bwrapManager } from './bwrap-world.js';
import { settledLeftovers } from './leak-check.js';

/** Need act's command-line inputs; replayed by test/workflow-act-cli.test.ts. */
const CLI_FIXTURES = [
  'secrets',
  'input-from-cli',
  'workflow_dispatch',
  'workflow_call_inputs',
  'matrix-with-user-inclusions',
];
const DISAGREEMENTS = join(import.meta.dirname, 'conformance', 'workflow-act-disagreements.tsv');
/** The event.json act's tests give (transcribed in EXPECTED.tsv's notes). */
const EVENTS: Record<string, { [key: string]: Value }> = {
  'pull-request': { pull_request: { head: { ref: 'sample-head-ref' }, base: { ref: 'sample-base-ref' } } },
};

/**
 * nested/ has two planner rows: planning the folder with recursion fails on workflows/fail.yml (an
 * empty file), without it success.yml plans.
 */
const NESTED: Record<string, string> = {
  'nested/success.yml': 'success',
  'nested/workflows/fail.yml': 'error',
};

interface Fixture {
  /** The directory for a directory with one workflow; `dir/file` where a directory has several. */
  name: string;
  file: string;
  tier: 'strict' | 'inline-composite';
  expected: 'success' | 'failure';
  event: string;
}

function workflowFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) {
      if (!entry.startsWith('_')) out.push(...workflowFiles(full));
    } else if (/\.ya?ml$/.test(entry)) out.push(full);
  }
  return out;
}

/** Fixtures with their expected result, from EXPECTED.tsv's rows (first row of a fixture wins). */
function fixtures(): Fixture[] {
  const rows = new Map<string, { expected: string; event: string }>();
  for (const line of readFileSync(join(ACT, 'EXPECTED.tsv'), 'utf8').split('\n')) {
    const cols = line.split('\t');
    const copied = cols[7] ?? '';
    if (line.startsWith('#') || copied === '' || rows.has(copied)) continue;
    rows.set(copied, { expected: cols[2] ?? '', event: cols[1] ?? 'push' });
  }
  const files = [
    ...workflowFiles(ACT).map((f) => ({ f, tier: 'strict' as const })),
    ...workflowFiles(join(ACT, '_inline_composite')).map((f) => ({ f, tier: 'inline-composite' as const })),
  ];
  const perDir = new Map<string, number>();
  for (const { f } of files) perDir.set(dirname(f), (perDir.get(dirname(f)) ?? 0) + 1);
  return files.map(({ f, tier }) => {
    const rel = relative(ACT, f);
    const dir = relative(ACT, dirname(f));
    const top = rel.split('/')[0] ?? rel;
    const name =
      tier === 'inline-composite'
        ? dir.replace('_inline_composite/', '')
        : (perDir.get(dirname(f)) ?? 0) > 1 || top === 'nested'
          ? rel
          : dir;
    const row = rows.get(rel) ?? rows.get(dir) ?? rows.get(top);
    const text = NESTED[rel] ?? row?.expected ?? '';
    const ok = /^(success|no error|\(not asserted by act\) by inspection: success)/.test(text);
    const event = row?.event.startsWith('(') ? 'push' : (row?.event ?? 'push');
    return { name, file: f, tier, expected: ok ? 'success' : 'failure', event };
  });
}

function listed(): Map<string, { hearth: string; reason: string }> {
  const out = new Map<string, { hearth: string; reason: string }>();
  for (const line of readFileSync(DISAGREEMENTS, 'utf8').split('\n')) {
    if (line.startsWith('#') || line.startsWith('fixture\t') || line.trim() === '') continue;
    const [fixture = '', , hearth = '', reason = ''] = line.split('\t');
    out.set(fixture, { hearth, reason });
  }
  return out;
}

const ALL = existsSync(join(ACT, 'EXPECTED.tsv')) ? fixtures() : [];
const REPLAYED = ALL.filter((f) => !CLI_FIXTURES.includes(f.name));
const results = new Map<string, string>();
let dir: string;
let store: SqliteStore;
let manager: SandboxManager;
let skip: string | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-wf-act-'));
  store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
  manager = bwrapManager(store, dir);
  const probe = (await manager.backends.default()).probe;
  if (!probe.usable) skip = probe.reason;
  if (ALL.length === 0) skip = `no act corpus at ${ACT}`;
});

afterAll(async () => {
  await manager?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
  expect(await settledLeftovers({ settleMs: 3000 })).toEqual([]);
});

describe('act fixtures', () => {
  it('the corpus has the 48 strict-tier files and 4 inline composites', (ctx) => {
    if (ALL.length === 0) ctx.skip();
    expect(ALL.filter((f) => f.tier === 'strict')).toHaveLength(48);
    expect(ALL.filter((f) => f.tier === 'inline-composite')).toHaveLength(4);
    for (const name of CLI_FIXTURES) expect(ALL.map((f) => f.name)).toContain(name);
  });

  it.for(REPLAYED.map((f) => [f.name, f] as const))('%s', async ([, fixture], ctx) => {
    if (skip) ctx.skip();
    const lines: string[] = [];
    let result: string;
    try {
      const content = readFileSync(fixture.file, 'utf8');
      const workflow = await parseWorkflow({ file: relative(dirname(fixture.file), fixture.file), content });
      const event = EVENTS[fixture.name] ?? {};
      const r = await executeWorkflow({
        manager,
        workflow,
        repositoryDir: dirname(fixture.file),
        env: { ACT: 'true' },
        contexts: {
          github: { actor: 'nektos/act', repository_owner: 'nektos', event_name: fixture.event, event },
        },
        onLog: (j, st, _t, l) => lines.push(`[${j}] ${st}: ${l}`),
      });
      result = r.result;
    } catch (err) {
      lines.push(String(err));
      result = 'failure';
    }
    results.set(fixture.name, result);
    const known = listed().get(fixture.name);
    if (result !== fixture.expected && !known) console.log(lines.join('\n'));
    // A disagreement is allowed only where it is listed, with the result hearth gives.
    if (known) expect(result).toBe(known.hearth);
    else expect(result).toBe(fixture.expected);
    expect(manager.list()).toEqual([]);
  });

  it('agrees with act on at least 90% of the strict fixtures, and lists exactly the ones it does not', (ctx) => {
    if (skip) ctx.skip();
    const disagree = REPLAYED.filter((f) => results.get(f.name) !== f.expected).map((f) => f.name);
    const strict = REPLAYED.filter((f) => f.tier === 'strict');
    const agreed = strict.filter((f) => results.get(f.name) === f.expected).length;
    expect(results.size).toBe(REPLAYED.length);
    expect(agreed / strict.length).toBeGreaterThanOrEqual(0.9);
    const rows = listed();
    const mine = [...rows.keys()].filter((name) => !CLI_FIXTURES.includes(name));
    expect(mine.sort()).toEqual(disagree.sort());
    for (const name of disagree) expect(rows.get(name)?.reason.length).toBeGreaterThan(10);
  });
});
