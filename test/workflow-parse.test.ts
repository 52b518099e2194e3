/**
 * Parsing: every workflow of the strict-tier act fixtures (conformance/act, dirs not starting with
 * `_`) parses or is refused as act expects (EXPECTED.tsv), and refusals carry the parser's file,
 * line and column.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HearthError } from '../src/errors/hearth-error.js';
import { parseWorkflow } from '../src/workflows/index.js';
import { ACT } from './act-corpus.js';

/** Workflows act refuses, at planning or (†) when the job runs; hearth refuses them all when parsing. */
const ACT_REFUSES = new Set([
  'empty-workflow/push.yml',
  'invalid-job-name/invalid-1.yml',
  'invalid-job-name/invalid-2.yml',
  'nested/workflows/fail.yml',
  'issue-1595/missing.yml',
  'issue-1595/no-first.yml',
  'job-nil-step/push.yml', // † invalid Step 0: missing run or uses key
  'uses-github-empty/push.yml', // † a step with neither run nor uses
]);

/** Where GitHub's parser (and so hearth) refuses what act accepts: GitHub would refuse them too. */
const STRICTER_THAN_ACT: Record<string, string> = {
  'invalid-job-name/valid-2.yml': "job ids starting with '__' are reserved",
  'issue-1595/no-event.yml': 'a workflow without `on:` is invalid (act plans nothing for it)',
  'workflow_call_inputs/workflow_call_inputs.yml': 'workflow_call inputs need a `type`',
};

function strictTierWorkflows(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (dir === ACT && name.startsWith('_')) continue;
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.ya?ml$/.test(name)) out.push(relative(ACT, path));
    }
  };
  walk(ACT);
  return out.sort();
}

async function outcome(file: string): Promise<'ok' | HearthError> {
  try {
    await parseWorkflow({ file, content: readFileSync(join(ACT, file), 'utf8') });
    return 'ok';
  } catch (err) {
    if (err instanceof HearthError) return err;
    throw err;
  }
}

describe('parsing the strict-tier act fixtures', () => {
  const files = strictTierWorkflows();

  it('finds the 48 workflow files', () => {
    expect(files.length).toBe(48);
  });

  it.each(files)('%s parses as act expects', async (file) => {
    const result = await outcome(file);
    const refused = ACT_REFUSES.has(file) || file in STRICTER_THAN_ACT;
    if (!refused) {
      expect(result === 'ok' ? 'ok' : result.message).toBe('ok');
      return;
    }
    expect(result).toBeInstanceOf(HearthError);
    const err = result as HearthError;
    expect(err.code).toBe('WORKFLOW_INVALID');
    expect(err.status).toBe(422);
    expect(err.message).toContain(file);
  });

  it('names the file, line and column of each problem', async () => {
    const err = (await outcome('invalid-job-name/invalid-1.yml')) as HearthError;
    expect(err.message).toMatch(
      /invalid-job-name\/invalid-1\.yml \(Line: 5, Col: 3\): The identifier 'invalid-JOB-Name-v1\.2\.3-docker_hub' is invalid/,
    );
    expect(err.details?.errors).toEqual([
      expect.objectContaining({ file: 'invalid-job-name/invalid-1.yml', line: 5, column: 3 }),
    ]);
  });
});

describe('the model read from a workflow', () => {
  it('keeps steps, defaults, env and expressions as templates', async () => {
    const wf = await parseWorkflow({
      file: 'ci.yml',
      content: `name: CI
on: push
env: { A: a }
defaults: { run: { shell: sh, working-directory: /tmp } }
jobs:
  build:
    runs-on: \${{ matrix.os }}
    timeout-minutes: 5
    continue-on-error: true
    outputs: { v: '\${{ steps.s.outputs.v }}' }
    steps:
      - id: s
        run: echo "v=\${{ github.sha }}" >> "$GITHUB_OUTPUT"
        shell: bash
        working-directory: sub
        env: { B: b }
        if: github.ref == 'refs/heads/main'
        continue-on-error: \${{ matrix.experimental }}
        timeout-minutes: 2
      - uses: ./local-action
        with: { who: world }
      - run: echo two
`,
    });
    expect(wf.name).toBe('CI');
    expect(Object.keys(wf.on)).toEqual(['push']);
    expect(wf.defaults.shell).toEqual({ kind: 'literal', value: 'sh' });
    const [job] = wf.jobs;
    expect(job?.runsOn).toEqual({ kind: 'expr', expr: 'matrix.os' });
    expect(job?.timeoutMinutes).toEqual({ kind: 'literal', value: 5 });
    const [s, action, plain] = job?.steps ?? [];
    expect(s).toMatchObject({ id: 's', hasUserId: true, shell: { kind: 'literal', value: 'bash' } });
    expect(s?.run).toEqual({ kind: 'expr', expr: `format('echo "v={0}" >> "$GITHUB_OUTPUT"', github.sha)` });
    expect(s?.if).toBe("success() && (github.ref == 'refs/heads/main')");
    expect(s?.continueOnError).toEqual({ kind: 'expr', expr: 'matrix.experimental' });
    expect(action).toMatchObject({ uses: './local-action', hasUserId: false, if: 'success()' });
    expect(action?.with).toEqual({
      kind: 'map',
      entries: [{ key: { kind: 'literal', value: 'who' }, value: { kind: 'literal', value: 'world' } }],
    });
    expect(plain?.id).not.toBe(action?.id);
  });

  it('reads multi-line scalars with expressions by their YAML value, CRLF files too', async () => {
    const content = [
      'on: push',
      'jobs:',
      '  a:',
      '    runs-on: x',
      '    strategy:',
      '      matrix: |-',
      `        \${{ fromJSON('{"n": [1]}') }}`,
      '    steps:',
      '      - run: |',
      `          echo \${{ matrix.n }}`,
      "          echo 'done' {x}",
      '        if: |-',
      `          \${{ github.ref == 'x' }}`,
      '',
    ].join('\r\n');
    const [job] = (await parseWorkflow({ file: 'm.yml', content })).jobs;
    expect(job?.strategy).toEqual({
      kind: 'map',
      entries: [
        {
          key: { kind: 'literal', value: 'matrix' },
          value: { kind: 'expr', expr: `fromJSON('{"n": [1]}')` },
        },
      ],
    });
    expect(job?.steps[0]?.run).toEqual({
      kind: 'expr',
      expr: "format('echo {0}\necho ''done'' {{x}}\n', matrix.n)",
    });
    expect(job?.steps[0]?.if).toBe("success() && (github.ref == 'x')");
  });

  it('refuses unknown needs and cycles, naming the jobs', async () => {
    const unknown = await parseWorkflow({
      file: 'u.yml',
      content: 'on: push\njobs:\n  a:\n    runs-on: x\n    needs: ghost\n    steps: [{run: "true"}]\n',
    }).catch((e: unknown) => e as HearthError);
    expect(unknown).toBeInstanceOf(HearthError);
    expect((unknown as HearthError).message).toContain(
      "Job 'a' needs job 'ghost', which the workflow does not define.",
    );

    const cycle = await parseWorkflow({
      file: 'c.yml',
      content:
        'on: push\njobs:\n  start:\n    runs-on: x\n    steps: [{run: "true"}]\n' +
        '  a:\n    runs-on: x\n    needs: [start, b]\n    steps: [{run: "true"}]\n' +
        '  b:\n    runs-on: x\n    needs: a\n    steps: [{run: "true"}]\n',
    }).catch((e: unknown) => e as HearthError);
    expect((cycle as HearthError).code).toBe('WORKFLOW_INVALID');
    expect((cycle as HearthError).message).toContain("Jobs form a cycle through 'needs': 'a' → 'b' → 'a'.");
  });
});
