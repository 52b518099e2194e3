/**
 * `hearth workflow run` as users run it: the built dist/cli.js as a child process, on bwrap, against
 * temporary repositories, with its own state directory (so the knowledge graph starts empty).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settledLeftovers } from './leak-check.js';
import { type CliResult, cliMissing, tempRepository, workflowCli } from './workflow-cli-fixture.js';

const CI = `
name: ci
on:
  push:
  workflow_dispatch:
    inputs:
      greeting: { type: string, default: hi }
      loud: { type: boolean, default: false }
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - name: greet
        run: |
          echo "token=$TOKEN"
          echo "to stderr" >&2
        env:
          TOKEN: \${{ secrets.TOKEN }}
      - run: |
          v=masked-$(echo 42)-value
          echo "::add-mask::$v"
          echo "made $v"
      - run: echo "greeting=\${{ inputs.greeting }} loud=\${{ inputs.loud }} head=\${{ github.event.head_commit.message }} var=\${{ vars.COLOR }} env=$FROM_ENV_FILE ref=\${{ github.ref_name }} sha=\${{ github.sha }}"
  test:
    needs: build
    runs-on: ubuntu-latest
    strategy:
      matrix:
        node: [18, 20]
    steps:
      - run: echo "node=\${{ matrix.node }}"
  lint:
    runs-on: ubuntu-latest
    steps:
      - run: echo linted
`;

const FAILING = `
name: fails
on: push
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - run: echo starting
      - run: grep -q shipped missing.txt
      - if: always()
        run: echo cleanup
`;

const SECRET = 's3cr3t-token-value';
const owners: number[] = [];
let stateDir: string;
let repo: string;
let failing: string;
const skip = cliMissing();

const cli = (args: string[], cwd = repo) => workflowCli(args, { cwd, stateDir, owners });
const all = (r: CliResult) => r.stdout + r.stderr;

beforeAll(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'hearth-wf-cli-state-'));
  repo = tempRepository({
    '.github/workflows/ci.yml': CI,
    '.env': 'FROM_ENV_FILE=dotenv-value # a comment\n',
    'event.json': JSON.stringify({ head_commit: { message: 'hello-from-event' } }),
  });
  failing = tempRepository({ '.github/workflows/fails.yml': FAILING });
  // A git checkout: github.sha and github.ref come from it, as act reads them.
  const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { stdio: 'ignore' });
  git('init', '-q', '-b', 'trunk');
  git('add', '.');
  git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'init');
});

afterAll(async () => {
  for (const dir of [stateDir, repo, failing]) if (dir) rmSync(dir, { recursive: true, force: true });
  expect(await settledLeftovers({ ownerPids: owners, runDir: join(stateDir, 'run') })).toEqual([]);
});

describe.skipIf(skip)('hearth workflow run', () => {
  it('--list shows stage, job, name, workflow, file and events; -j keeps the job and its needs', async () => {
    // -C names the repository; the command runs from elsewhere.
    const r = await cli(['run', '--list', '-C', repo], tmpdir());
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^Stage\s+Job ID\s+Job name\s+Workflow name\s+Workflow file\s+Events$/);
    expect(rows.slice(1).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([
      ['0', 'build'],
      ['0', 'lint'],
      ['1', 'test'],
    ]);
    expect(rows[1]).toContain('.github/workflows/ci.yml  push,workflow_dispatch');
    const j = await cli(['run', '--list', '-j', 'test']);
    expect(j.stdout).toMatch(/build/);
    expect(j.stdout).not.toMatch(/lint/);
  });

  it('--dry-run prints the legs and steps that would run, --matrix keeping the matching legs', async () => {
    const r = await cli(['run', '--dry-run', '--matrix', 'node:20']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('*DRYRUN* [ci/build] ⭐ Run greet');
    expect(r.stdout).toContain('*DRYRUN* [ci/test (20)] ⭐ Run echo "node=20"');
    expect(r.stdout).not.toContain('test (18)');
    expect(r.stderr).not.toContain('preparing');
  });

  it('runs on push with live prefixed logs, masks secrets and ::add-mask:: values, and sums up', async () => {
    const r = await workflowCli(['run', '-s', 'TOKEN', '--var', 'COLOR=blue', '-e', 'event.json'], {
      cwd: repo,
      stateDir,
      owners,
      env: { TOKEN: SECRET },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('[ci/build] ⭐ Run greet\n');
    expect(r.stdout).toContain('[ci/build]   | token=***\n');
    expect(r.stdout).toMatch(/\[ci\/build\] {3}✅ {2}Success - greet \[\d+\.\d\ds\]/);
    expect(r.stderr).toContain('[ci/build]   | to stderr\n');
    expect(r.stdout).toContain('[ci/build]   | made ***\n');
    expect(r.stdout).toMatch(
      /greeting= loud= head=hello-from-event var=blue env=dotenv-value ref=trunk sha=[0-9a-f]{40}\n/,
    );
    expect(r.stdout).toContain('[ci/test (18)]   | node=18');
    expect(r.stdout).toContain('[ci/test (20)]   | node=20');
    expect(r.stdout).toContain('[ci/lint]   | linted');
    expect(all(r)).not.toContain(SECRET);
    expect(all(r)).not.toContain('masked-42-value');
    expect(r.stdout).toMatch(/JOB\s+STEP\s+RESULT\s+DURATION\s+PREDICTED\s+LESSON/);
    expect(r.stdout).toMatch(/ci \(\.github\/workflows\/ci\.yml\): success in/);
  });

  it('--json: one document with runs, jobs, steps, logs and advice; -j, --input typed, secrets masked', async () => {
    const args = ['run', 'workflow_dispatch', '-j', 'build', '--json', '-s', `TOKEN=${SECRET}`];
    const r = await cli([...args, '--input', 'greeting=hey', '--input', 'loud=true']);
    expect(r.code).toBe(0);
    expect(all(r)).not.toContain(SECRET);
    const doc = JSON.parse(r.stdout);
    expect(doc.result).toBe('success');
    expect(doc.runs).toHaveLength(1);
    const run = doc.runs[0];
    expect(run).toMatchObject({
      file: '.github/workflows/ci.yml',
      event: 'workflow_dispatch',
      result: 'success',
    });
    expect(run.jobs.map((j: { key: string }) => j.key)).toEqual(['build']);
    const steps = run.jobs[0].steps;
    expect(steps.map((s: { outcome: string }) => s.outcome)).toEqual(['success', 'success', 'success']);
    expect(steps[0].log).toBe('token=***\nto stderr\n');
    expect(steps[1].log).toContain('made ***');
    expect(steps[2].log).toContain('greeting=hey loud=true');
    for (const s of steps) {
      expect(s.advice.probability).toBeGreaterThan(0);
      expect(s.advice.probability).toBeLessThan(1);
      expect(Array.isArray(s.advice.lessons)).toBe(true);
    }
    expect(r.stderr).toContain('[ci/build] ⭐ Run greet');
  });

  it('--matrix with -j runs the matching legs and the jobs they need', async () => {
    const r = await cli(['run', '-j', 'test', '--matrix', 'node:18', '--no-advice']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('[ci/test (18)]   | node=18');
    expect(r.stdout).toContain('[ci/build] ⭐ Run greet');
    expect(r.stdout).not.toContain('test (20)');
    expect(r.stdout).not.toContain('linted');
    expect(r.stdout).not.toContain('PREDICTED');
  });

  it('exits 2 on usage errors: a bad flag, a bad input, an unknown job or event, an invalid workflow', async () => {
    const cases: string[][] = [
      ['run', '--bogus'],
      ['run', '--matrix', 'nocolon'],
      ['run', 'workflow_dispatch', '--input', 'loud=maybe'],
      ['run', '-j', 'nope'],
      ['run', 'release'],
      ['run', '-s', 'UNSET_IN_THIS_ENV_123'],
      ['run', '-e', 'missing.json'],
      ['run', '--backend', 'nope'],
    ];
    for (const args of cases) {
      const r = await cli(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).not.toBe('');
    }
    const bad = tempRepository({
      '.github/workflows/bad.yml': 'on: push\njobs:\n  a:\n    steps: 3\n',
    });
    try {
      const r = await cli(['run'], bad);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/\.github\/workflows\/bad\.yml \(Line: 4, Col: \d+\): Unexpected value '3'/);
      expect(r.stderr).toContain('[WORKFLOW_INVALID]');
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });

  it('a failing run exits 1; after three failures the step shows a lesson in the summary and in --json', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await cli(['run'], failing);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/❌ {2}Failure - Run grep -q shipped missing\.txt \(exit code 2\)/);
      expect(r.stdout).toContain('[fails/check]   | cleanup');
      expect(r.stderr).toContain('[fails/check] 🏁  Job failed');
    }
    const quiet = await cli(['run', '--json', '--no-advice'], failing);
    expect(quiet.code).toBe(1);
    const noAdvice = JSON.parse(quiet.stdout);
    expect(noAdvice.result).toBe('failure');
    expect(noAdvice.runs[0].jobs[0].steps.some((s: object) => 'advice' in s)).toBe(false);
    const json = await cli(['run', '--json'], failing);
    expect(json.code).toBe(1);
    const step = JSON.parse(json.stdout).runs[0].jobs[0].steps[1];
    expect(step.outcome).toBe('failure');
    expect(step.advice.command).toBe('grep');
    expect(step.advice.lessons).toHaveLength(1);
    expect(step.advice.lessons[0].occurrences).toBeGreaterThanOrEqual(3);
    const text = await cli(['run'], failing);
    const row = text.stdout.split('\n').find((l) => l.includes('grep -q shipped') && l.includes('failure'));
    expect(row).toMatch(/failure\s+\d+\.\d\ds\s+\d+% \(\d+ seen\)\s+\S+/);
  });
});

// A secret file in .env format, with a multi-line double-quoted value: every line of it is masked.
describe.skipIf(skip)('secret files', () => {
  it('masks each line of a multi-line secret from --secret-file', async () => {
    const dir = tempRepository({
      '.github/workflows/s.yml': `name: s\non: push\njobs:\n  s:\n    runs-on: x\n    steps:\n      - run: printf "%s\\n" "\${{ secrets.MULTI }}"\n`,
    });
    try {
      writeFileSync(join(dir, 'my.secrets'), 'MULTI="first-line\\nsecond-line"\n');
      const r = await cli(['run', '--secret-file', 'my.secrets'], dir);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('[s/s]   | ***\n[s/s]   | ***\n');
      expect(all(r)).not.toMatch(/first-line|second-line/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(skip)('actions', () => {
  it('--actions-dir: a uses: owner/repo@ref action is taken from the directory, with its inputs and outputs', async () => {
    const dir = tempRepository({
      '.github/workflows/a.yml': `name: a\non: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - id: greet\n        uses: acme/greet@v1\n        with: { who: hearth }\n      - run: echo "said=\${{ steps.greet.outputs.said }}"\n`,
      'actions/acme/greet@v1/action.yml': `name: greet\ninputs:\n  who: { required: true }\noutputs:\n  said: { value: "\${{ steps.s.outputs.said }}" }\nruns:\n  using: composite\n  steps:\n    - id: s\n      shell: bash\n      run: echo "said=hello \${{ inputs.who }}" >> "$GITHUB_OUTPUT"\n`,
    });
    try {
      const r = await cli(['run', '--actions-dir', 'actions'], dir);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('said=hello hearth');
      const missing = await cli(['run', '--actions-dir', 'elsewhere'], dir);
      expect(missing.code).toBe(1);
      expect(all(missing)).toMatch(/acme\/greet@v1.*elsewhere/s);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(skip)('step snapshots', () => {
  it('--snapshots none records a run without snapshots; a mode other than every-step or none exits 2', async () => {
    const dir = tempRepository({
      '.github/workflows/n.yml':
        'name: n\non: push\njobs:\n  n:\n    runs-on: x\n    steps:\n      - run: echo one\n',
    });
    try {
      const bad = await cli(['run', '--snapshots', 'sometimes'], dir);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/every-step, none/);
      const r = await cli(['run', '--snapshots', 'none'], dir);
      expect(r.code).toBe(0);
      const listed = await cli(['runs', '--json', '--limit', '1'], dir);
      const [run] = JSON.parse(listed.stdout) as Array<{ workflow: string; snapshots: string }>;
      expect(run).toMatchObject({ workflow: 'n', snapshots: 'none' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
