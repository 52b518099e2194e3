/**
 * What `hearth workflow run` builds on: the executor's mask (secrets and `::add-mask::` values hidden
 * from live lines and from the log kept in each step's result, on real bwrap sandboxes), the
 * planner's matrix filter, and the CLI's readers of .env files, inputs and flags.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inputsContext, matrixFlags, parseDotenv, secretFlags } from '../src/cli/workflow-inputs.js';
import { HearthError } from '../src/errors/hearth-error.js';
import type { SandboxManager } from '../src/sandboxes/manager.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import {
  executeWorkflow,
  type Leg,
  parseWorkflow,
  SecretMask,
  WorkflowPlan,
} from '../src/workflows/index.js';
import { bwrapManager } from './bwrap-world.js';
import { settledLeftovers } from './leak-check.js';

let dir: string;
let store: SqliteStore;
let manager: SandboxManager;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-wf-cli-inputs-'));
  store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
  manager = bwrapManager(store, dir);
});

afterAll(async () => {
  await manager?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
  expect(await settledLeftovers()).toEqual([]);
});

const MASKED = `
on: push
jobs:
  first:
    runs-on: x
    steps:
      - run: echo "secret is \${{ secrets.API_KEY }}"
      - run: |
          v=made-$(echo 42)-here
          echo "::add-mask::$v"
          echo "now $v" >&2
          echo "$v" >> "$GITHUB_STEP_SUMMARY"
  second:
    needs: first
    runs-on: x
    steps:
      - run: echo "again made-42-here and \${{ secrets.API_KEY }}"
`;

describe('the executor masks secrets and ::add-mask:: values', () => {
  it('in live lines and in the kept log and summary of every step, in later jobs too', async () => {
    const workflow = await parseWorkflow({ file: 'm.yml', content: MASKED });
    const mask = new SecretMask();
    const live: string[] = [];
    const r = await executeWorkflow({
      manager,
      workflow,
      contexts: { secrets: { API_KEY: 'key-0123456789' } },
      mask,
      onLog: (_job, _step, _stream, line) => live.push(line),
    });
    expect(r.result).toBe('success');
    const logs = r.jobs.flatMap((j) => j.steps.map((s) => s.log + s.summary)).join('');
    for (const text of [logs, live.join('\n')]) {
      expect(text).toContain('secret is ***');
      expect(text).toContain('now ***');
      expect(text).toContain('again *** and ***');
      expect(text).not.toMatch(/key-0123456789|made-42-here/);
    }
    // The caller's mask learned the step's value: what the CLI prints afterwards is masked too.
    expect(mask.apply('x made-42-here key-0123456789')).toBe('x *** ***');
  });
});

describe('the planner keeps the matrix legs --matrix asks for', () => {
  const legsOf = async (filter: Record<string, string[]>) => {
    const wf = await parseWorkflow({
      file: 'w.yml',
      content:
        'on: push\njobs:\n  a:\n    runs-on: x\n    strategy:\n      matrix:\n        node: [8, 10]\n        os: [linux, mac]\n    steps:\n      - run: "true"\n  b:\n    runs-on: x\n    steps:\n      - run: "true"\n',
    });
    const plan = new WorkflowPlan(wf, { contexts: {}, maxParallelLegs: 100, matrixFilter: filter });
    const legs: Leg[] = await plan.next();
    return { legs: legs.map((l) => [l.key, l.matrix]), jobs: plan.jobs() };
  };

  it('compares values as text, a key the job does not have filters nothing, and no leg left skips the job', async () => {
    const some = await legsOf({ node: ['8'], arch: ['arm'] });
    expect(some.legs).toEqual([
      ['a[0]', { node: 8, os: 'linux' }],
      ['a[1]', { node: 8, os: 'mac' }],
      ['b', {}],
    ]);
    const none = await legsOf({ os: ['windows'] });
    expect(none.legs).toEqual([['b', {}]]);
    expect(none.jobs.a?.result).toBe('skipped');
  });
});

describe('the CLI reads .env files, inputs and flags as act does', () => {
  it('parses quotes, escapes, multi-line values, export and comments; names the bad line', () => {
    const text = [
      '# comment',
      'export PLAIN = some value # trailing',
      "SINGLE='kept \\n as is'",
      'DOUBLE="a\\nb\\tc \\"q\\""',
      'MULTI="line one',
      'line two"',
      'JSON={"foo": "bar"}',
      '',
    ].join('\n');
    expect(parseDotenv(text, 'f')).toEqual({
      PLAIN: 'some value',
      SINGLE: 'kept \\n as is',
      DOUBLE: 'a\nb\tc "q"',
      MULTI: 'line one\nline two',
      JSON: '{"foo": "bar"}',
    });
    expect(() => parseDotenv('OK=1\nnot a pair\n', 'x.env')).toThrow(/x\.env:2: expected KEY=VALUE/);
    expect(() => parseDotenv('A="open\n', 'y.env')).toThrow(/y\.env:1: .* no closing "/);
  });

  it('types declared inputs, takes --input over the event and defaults, and refuses bad values', () => {
    const declared = {
      name: { type: 'string', default: 'world' },
      loud: { type: 'boolean' },
      count: { type: 'number', default: 2 },
      level: { type: 'choice', options: ['low', 'high'], default: 'low' },
    };
    expect(inputsContext(declared, { loud: 'true' }, { name: 'event', extra: 'x' })).toEqual({
      name: 'event',
      loud: true,
      count: 2,
      level: 'low',
      extra: 'x',
    });
    expect(() => inputsContext(declared, { loud: 'yes' }, {})).toThrow(HearthError);
    expect(() => inputsContext(declared, { count: 'many' }, {})).toThrow(/number/);
    expect(() => inputsContext(declared, { level: 'mid' }, {})).toThrow(/one of: low, high/);
  });

  it('reads -s NAME from the environment and --matrix k:v into alternatives', () => {
    expect(secretFlags(['A=1=2', 'B'], { B: 'from-env' })).toEqual({ A: '1=2', B: 'from-env' });
    expect(() => secretFlags(['C'], {})).toThrow(/no C/);
    expect(matrixFlags(['node:8', 'node:8.x', 'os:linux'])).toEqual({ node: ['8', '8.x'], os: ['linux'] });
    expect(matrixFlags([])).toBeUndefined();
    expect(() => matrixFlags([':x'])).toThrow(HearthError);
  });
});
