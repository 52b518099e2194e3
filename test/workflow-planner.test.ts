/**
 * Matrix expansion (against act's EXPECTED_MATRIX.json), the planner's readiness API (needs order,
 * job if:, fail-fast, max-parallel, needs results and outputs), and shell commands.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HearthError } from '../src/errors/hearth-error.js';
import type { Value } from '../src/workflows/index.js';
import {
  evaluateExpression,
  expandStrategy,
  type Leg,
  parseWorkflow,
  shellArgv,
  shellCommand,
  WorkflowPlan,
} from '../src/workflows/index.js';
import { ACT } from './act-corpus.js';

const workflow = (jobs: string) => parseWorkflow({ file: 'w.yml', content: `on: push\njobs:\n${jobs}` });
const keys = (legs: Leg[]) => legs.map((l) => l.key);

describe('matrix expansion', () => {
  it('matches act on strategy/push.yml (include, exclude, fail-fast, max-parallel)', async () => {
    const expected = JSON.parse(readFileSync(`${ACT}/strategy/EXPECTED_MATRIX.json`, 'utf8')) as {
      jobs: Record<string, { matrixes: Value[]; max_parallel: number; fail_fast: boolean }>;
    };
    const wf = await parseWorkflow({
      file: 'strategy/push.yml',
      content: readFileSync(`${ACT}/strategy/push.yml`, 'utf8'),
    });
    for (const [id, want] of Object.entries(expected.jobs)) {
      const job = wf.jobs.find((j) => j.id === id);
      const plan = new WorkflowPlan(
        { ...wf, jobs: job ? [job] : [] },
        { contexts: {}, maxParallelLegs: 100 },
      );
      const legs: Leg[] = [];
      for (let batch = await plan.next(); batch.length > 0; batch = await plan.next()) {
        expect(batch.length, id).toBeLessThanOrEqual(want.max_parallel);
        legs.push(...batch);
        for (const leg of batch) plan.finished(leg.key, { result: 'success' });
      }
      expect(plan.done).toBe(true);
      expect(
        legs.map((l) => l.matrix),
        id,
      ).toEqual(want.matrixes);
      expect(legs[0]?.strategy['fail-fast'], id).toBe(want.fail_fast);
      // act defaults an unset max-parallel to 4; GitHub (and hearth) set no limit of the job's own.
      const maxParallel = id === 'strategy-only-fail-fast' ? want.matrixes.length : want.max_parallel;
      expect(legs[0]?.strategy['max-parallel'], id).toBe(maxParallel);
    }
  });

  it('lets include extend legs without changing original values, and exclude match partially', () => {
    const { legs } = expandStrategy('j', {
      matrix: {
        os: ['linux', 'mac'],
        node: [18, 20],
        exclude: [{ os: 'mac', node: 18 }],
        include: [{ os: 'linux', experimental: true }, { os: 'linux', node: 18, extra: 'x' }, { os: 'bsd' }],
      },
    });
    expect(legs).toEqual([
      { os: 'linux', node: 18, experimental: true, extra: 'x' },
      { os: 'linux', node: 20, experimental: true },
      { os: 'mac', node: 20 },
      { os: 'bsd' },
    ]);
  });

  it('refuses a matrix value that is not a list, and a matrix past the leg limit', () => {
    expect(() => expandStrategy('j', { matrix: { os: 'linux' } })).toThrow(/matrix\.os must be a list/);
    const many = Array.from({ length: 20 }, (_, i) => i);
    expect(() => expandStrategy('j', { matrix: { a: many, b: many } })).toThrow(HearthError);
  });
});

describe('the planner', () => {
  it('starts jobs in needs order and hands needs results and outputs to later jobs', async () => {
    const wf = await workflow(`  c:
    runs-on: x
    needs: [a, b]
    if: needs.a.outputs.go == 'yes' && needs.b.result == 'success'
    steps: [{run: "true"}]
  a:
    runs-on: x
    outputs: { go: yes }
    steps: [{run: "true"}]
  b:
    runs-on: x
    needs: a
    steps: [{run: "true"}]
`);
    const plan = new WorkflowPlan(wf, { contexts: {} });
    expect(keys(await plan.next())).toEqual(['a']);
    expect(keys(await plan.next())).toEqual([]);
    plan.finished('a', { result: 'success', outputs: { go: 'yes' } });
    const [b] = await plan.next();
    expect(b?.key).toBe('b');
    expect(b?.needs).toEqual({ a: { result: 'success', outputs: { go: 'yes' } } });
    plan.finished('b', { result: 'success' });
    const [c] = await plan.next();
    expect(c?.key).toBe('c');
    plan.finished('c', { result: 'success' });
    expect(plan.done).toBe(true);
    expect(plan.result()).toBe('success');
  });

  it('skips jobs whose if: is false, and jobs after a failure unless their if: says otherwise (act job-status-check)', async () => {
    const wf = await parseWorkflow({
      file: 'job-status-check/push.yml',
      content: readFileSync(`${ACT}/job-status-check/push.yml`, 'utf8'),
    });
    const plan = new WorkflowPlan(wf, { contexts: {} });
    expect(keys(await plan.next())).toEqual(['fail']);
    plan.finished('fail', { result: 'failure' });
    expect(keys(await plan.next()).sort()).toEqual(['suc1', 'suc2']);
    plan.finished('suc1', { result: 'success' });
    plan.finished('suc2', { result: 'success' });
    expect(keys(await plan.next())).toEqual([]);
    expect(plan.done).toBe(true);
    expect(plan.jobs().next?.result).toBe('skipped');
    expect(plan.result()).toBe('failure');
  });

  it('runs if: always() and failure() jobs after a failed need, and skips a job whose if: is false', async () => {
    const wf = await workflow(`  a:
    runs-on: x
    steps: [{run: "false"}]
  cleanup:
    runs-on: x
    needs: a
    if: always()
    steps: [{run: "true"}]
  report:
    runs-on: x
    needs: a
    if: failure()
    steps: [{run: "true"}]
  never:
    runs-on: x
    if: github.event_name == 'pull_request'
    steps: [{run: "true"}]
`);
    const plan = new WorkflowPlan(wf, { contexts: { github: { event_name: 'push' } } });
    expect(keys(await plan.next())).toEqual(['a']);
    expect(plan.jobs().never?.result).toBe('skipped');
    plan.finished('a', { result: 'failure' });
    expect(keys(await plan.next())).toEqual(['cleanup', 'report']);
  });

  it('fail-fast cancels the pending legs and names the running ones to cancel; max-parallel bounds a job', async () => {
    const wf = await workflow(`  t:
    runs-on: x
    strategy:
      max-parallel: 2
      matrix: { n: [1, 2, 3, 4] }
    steps: [{run: "true"}]
`);
    const plan = new WorkflowPlan(wf, { contexts: {} });
    const first = await plan.next();
    expect(keys(first)).toEqual(['t[0]', 't[1]']);
    expect(first[1]?.strategy).toEqual({
      'fail-fast': true,
      'max-parallel': 2,
      'job-index': 1,
      'job-total': 4,
    });
    expect(plan.finished('t[0]', { result: 'failure' })).toEqual({ cancel: ['t[1]'] });
    expect(keys(await plan.next())).toEqual([]);
    plan.finished('t[1]', { result: 'cancelled' });
    expect(plan.done).toBe(true);
    expect(plan.jobs().t?.result).toBe('failure');
  });

  it('without fail-fast the other legs go on, and continue-on-error keeps the job green', async () => {
    const wf = await workflow(`  t:
    runs-on: x
    strategy:
      fail-fast: false
      matrix: { n: [1, 2] }
    steps: [{run: "true"}]
`);
    const plan = new WorkflowPlan(wf, { contexts: {}, maxParallelLegs: 1 });
    expect(keys(await plan.next())).toEqual(['t[0]']);
    expect(plan.finished('t[0]', { result: 'failure', continueOnError: true })).toEqual({ cancel: [] });
    expect(keys(await plan.next())).toEqual(['t[1]']);
    plan.finished('t[1]', { result: 'success' });
    expect(plan.jobs().t?.result).toBe('success');
  });

  it('evaluates a matrix from a needed job output (act evalmatrixneeds)', async () => {
    const wf = await parseWorkflow({
      file: 'evalmatrixneeds/push.yml',
      content: readFileSync(`${ACT}/evalmatrixneeds/push.yml`, 'utf8'),
    });
    const plan = new WorkflowPlan(wf, { contexts: {} });
    expect(keys(await plan.next())).toEqual(['prepare']);
    plan.finished('prepare', { result: 'success', outputs: { matrix: '{"package": ["a", "b"]}' } });
    const legs = await plan.next();
    expect(legs.map((l) => l.matrix)).toEqual([{ package: 'a' }, { package: 'b' }]);
  });

  it.each([
    ['evalmatrix-merge-map', [{ a: { env: { key1: 'val1', key2: 'val2', key3: 'val3' } } }]],
    [
      'evalmatrix-merge-array',
      [{ a: { env: { key1: 'val1' } } }, { a: { env: { key2: 'val2' } } }, { a: { env: { key3: 'val3' } } }],
    ],
  ])('evaluates an insert directive and spliced lists in a matrix (act %s)', async (dir, matrixes) => {
    const wf = await parseWorkflow({ file: dir, content: readFileSync(`${ACT}/${dir}/push.yml`, 'utf8') });
    const legs = await new WorkflowPlan(wf, { contexts: {} }).next();
    expect(legs.map((l) => l.matrix)).toEqual(matrixes);
  });

  it('gives each leg the job defaults over the workflow defaults (act defaults-run)', async () => {
    const wf = await parseWorkflow({
      file: 'defaults-run/main.yaml',
      content: readFileSync(`${ACT}/defaults-run/main.yaml`, 'utf8'),
    });
    const legs = await new WorkflowPlan(wf, { contexts: {}, maxParallelLegs: 10 }).next();
    const byJob = Object.fromEntries(legs.map((l) => [l.jobId, l.defaults]));
    expect(byJob['without-defaults']).toEqual({
      shell: { kind: 'literal', value: 'sh' },
      workingDirectory: undefined,
    });
    expect(byJob['with-defaults']).toEqual({
      shell: { kind: 'literal', value: 'bash' },
      workingDirectory: { kind: 'literal', value: '/tmp' },
    });
  });

  it('fails a job whose strategy cannot be evaluated, with the reason, and skips its dependants', async () => {
    const wf = await workflow(`  a:
    runs-on: x
    strategy: { matrix: { n: '\${{ fromJSON(''not json'') }}' } }
    steps: [{run: "true"}]
  b:
    runs-on: x
    needs: a
    steps: [{run: "true"}]
`);
    const plan = new WorkflowPlan(wf, { contexts: {} });
    expect(await plan.next()).toEqual([]);
    expect(plan.jobs().a?.result).toBe('failure');
    expect(plan.jobs().a?.error).toMatch(/fromJSON/);
    expect(plan.jobs().b?.result).toBe('skipped');
    expect(plan.done).toBe(true);
  });

  it('cancel() cancels pending legs and returns the running ones', async () => {
    const wf = await workflow(`  a:
    runs-on: x
    steps: [{run: "true"}]
  b:
    runs-on: x
    needs: a
    steps: [{run: "true"}]
  c:
    runs-on: x
    needs: a
    if: cancelled()
    steps: [{run: "true"}]
`);
    const plan = new WorkflowPlan(wf, { contexts: {} });
    await plan.next();
    expect(plan.cancel()).toEqual(['a']);
    plan.finished('a', { result: 'cancelled' });
    expect(keys(await plan.next())).toEqual(['c']);
    expect(plan.jobs().b?.result).toBe('skipped');
  });
});

describe('expressions the executor evaluates', () => {
  it('computes hashFiles() through the function it is given, and refuses it without one', async () => {
    const seen: string[][] = [];
    const hashFiles = async (patterns: string[]) => {
      seen.push(patterns);
      return `h-${patterns.join('+')}`;
    };
    const value = await evaluateExpression("format('{0}-{1}', runner.os, hashFiles('**/lock', '!x'))", {
      contexts: { runner: { os: 'Linux' } },
      hashFiles,
    });
    expect(value).toBe('Linux-h-**/lock+!x');
    expect(seen).toEqual([['**/lock', '!x']]);
    await expect(evaluateExpression("hashFiles('a')", { contexts: {} })).rejects.toMatchObject({
      code: 'WORKFLOW_EXPRESSION',
    });
  });

  it('treats a context it was not given as null', async () => {
    expect(await evaluateExpression('toJSON(matrix)', { contexts: {} })).toBe('null');
    expect(await evaluateExpression('matrix.os', { contexts: {} })).toBe(null);
  });

  it('answers status functions from the status it is given', async () => {
    const status = { success: false, failure: true, cancelled: false };
    expect(await evaluateExpression('failure() && !success()', { contexts: {}, status })).toBe(true);
  });

  it('refuses unknown contexts and functions with WORKFLOW_EXPRESSION', async () => {
    await expect(evaluateExpression('nope.x', { contexts: {} })).rejects.toMatchObject({
      code: 'WORKFLOW_EXPRESSION',
    });
    await expect(evaluateExpression('frobnicate(1)', { contexts: {} })).rejects.toMatchObject({
      status: 422,
    });
  });
});

describe('shell commands', () => {
  it('follows GitHub and act for each shell', () => {
    expect(shellCommand(undefined).template).toBe('bash -e {0}');
    expect(shellCommand(undefined, { bashAvailable: false }).template).toBe('sh -e {0}');
    expect(shellCommand('bash').template).toBe('bash --noprofile --norc -e -o pipefail {0}');
    expect(shellCommand('sh').template).toBe('sh -e {0}');
    expect(shellCommand('python').template).toBe('python3 {0}');
    expect(shellCommand('node').template).toBe('node {0}');
    expect(shellArgv(shellCommand('perl -w {0}'), '/tmp/s')).toEqual(['perl', '-w', '/tmp/s']);
  });

  it('refuses Windows shells and custom shells without {0}', () => {
    for (const shell of ['pwsh', 'powershell', 'cmd', "pwsh -command . '{0}'"]) {
      expect(() => shellCommand(shell)).toThrow(/not supported/);
    }
    expect(() => shellCommand('perl')).toThrow(/has no \{0\}/);
  });
});
