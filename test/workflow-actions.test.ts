/**
 * `uses:` steps on real bwrap sandboxes: local composite actions read from the workspace inside the
 * sandbox (inputs, defaults, required inputs, outputs, nested actions, env that does not leak,
 * GITHUB_ENV and GITHUB_PATH that do), remote actions from a local actions directory (composite and
 * node, with pre and state), the built-in setup actions, and every way an action can be refused.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxManager } from '../src/sandboxes/manager.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { parseActionFile } from '../src/workflows/executor/action-file.js';
import { executeWorkflow } from '../src/workflows/executor/index.js';
import { parseWorkflow } from '../src/workflows/parse.js';
import { bwrapManager } from './bwrap-world.js';
import { settledLeftovers } from './leak-check.js';

let dir: string;
let repo: string;
let actionsDir: string;
let store: SqliteStore;
let manager: SandboxManager;
let skip: string | undefined;

function put(root: string, files: Record<string, string>) {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text, { mode: path.startsWith('bin/') ? 0o755 : 0o644 });
  }
}

const REPO_FILES: Record<string, string> = {
  'bin/hello-tool': '#!/bin/sh\necho hello-tool-ran\n',
  'sub/.keep': '',
  '.github/actions/greet/action.yml': `
name: greet
inputs:
  who:
    required: true
  greeting:
    default: hello \${{ github.repository }}
outputs:
  message:
    value: \${{ steps.say.outputs.text }}
  shout:
    value: \${{ steps.inner.outputs.shout }}
runs:
  using: composite
  steps:
    - id: say
      shell: bash
      run: echo "text=$INPUT_GREETING \${{ inputs.who }}" >> "$GITHUB_OUTPUT"
    - shell: bash
      working-directory: sub
      env:
        COMPOSITE_STEP_ENV: composite-env
      run: |
        test "$(basename "$PWD")" = sub
        test "$COMPOSITE_STEP_ENV" = composite-env
        test "$CALLER_STEP_ENV" = only-here
    - shell: bash
      run: |
        echo "FROM_ACTION=set-in-composite" >> "$GITHUB_ENV"
        echo "$GITHUB_WORKSPACE/bin" >> "$GITHUB_PATH"
    - id: inner
      uses: ./.github/actions/shout
      with:
        text: \${{ inputs.who }}
    - if: inputs.who == 'nobody'
      shell: bash
      run: exit 1
`,
  '.github/actions/shout/action.yaml': `
inputs:
  text:
    required: true
outputs:
  shout:
    value: \${{ steps.up.outputs.v }}
runs:
  using: composite
  steps:
    - id: up
      shell: bash
      run: echo "v=$(echo "$INPUT_TEXT" | tr a-z A-Z)" >> "$GITHUB_OUTPUT"
`,
  'bad/action.yml': 'runs:\n  using: java\n',
  'loop/action.yml': 'runs:\n  using: composite\n  steps:\n    - uses: ./loop\n',
  'slow/action.yml': 'runs:\n  using: composite\n  steps:\n    - run: sleep 30\n      shell: bash\n',
  'fails/action.yml': 'runs:\n  using: composite\n  steps:\n    - shell: bash\n      run: exit 3\n',
};

const ACTION_FILES: Record<string, string> = {
  'acme/tools@v1/action.yml': `
inputs:
  name:
    default: nobody
outputs:
  said:
    value: \${{ steps.s.outputs.said }}
runs:
  using: composite
  steps:
    - id: s
      shell: bash
      run: |
        test -f "$GITHUB_ACTION_PATH/data.txt"
        echo "said=$(cat "$GITHUB_ACTION_PATH/data.txt") \${{ inputs.name }}" >> "$GITHUB_OUTPUT"
`,
  'acme/tools@v1/data.txt': 'tools-data',
  'acme/tools@v1/hello-node/action.yml': `
inputs:
  name:
    required: true
runs:
  using: node20
  pre: pre.js
  main: main.js
`,
  'acme/tools@v1/hello-node/pre.js':
    "require('fs').appendFileSync(process.env.GITHUB_STATE, 'started=yes\\n');\n",
  'acme/tools@v1/hello-node/main.js': `const fs = require('fs');
if (process.env.STATE_started !== 'yes') process.exit(7);
fs.appendFileSync(process.env.GITHUB_OUTPUT, 'greeting=hi ' + process.env.INPUT_NAME + '\\n');
console.log('node action ran');
`,
  'acme/post@v1/action.yml': 'runs:\n  using: node20\n  main: main.js\n  post: post.js\n',
  'acme/boxed@v2/action.yml': "runs:\n  using: docker\n  image: 'Dockerfile'\n",
};

const parse = (content: string) => parseWorkflow({ file: '.github/workflows/ci.yml', content });

async function run(content: string) {
  const lines: string[] = [];
  const r = await executeWorkflow({
    manager,
    workflow: await parse(content),
    repositoryDir: repo,
    actionsDir,
    onLog: (_j, _s, _t, line) => lines.push(line),
  });
  return { r, lines, steps: r.jobs[0]?.steps ?? [] };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-wf-actions-'));
  repo = join(dir, 'repo');
  actionsDir = join(dir, 'actions');
  put(repo, REPO_FILES);
  put(actionsDir, ACTION_FILES);
  store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
  manager = bwrapManager(store, dir);
  const probe = (await manager.backends.default()).probe;
  if (!probe.usable) skip = probe.reason;
});

afterAll(async () => {
  await manager?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
  expect(await settledLeftovers({ settleMs: 3000 })).toEqual([]);
});

describe('uses: local composite actions', () => {
  it('passes inputs and defaults, maps outputs, nests, keeps step env in and lets GITHUB_ENV/PATH out', async (ctx) => {
    if (skip) ctx.skip();
    const { r, lines, steps } = await run(`
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - id: g
        uses: ./.github/actions/greet
        with:
          who: world
        env:
          CALLER_STEP_ENV: only-here
      - run: |
          test "\${{ steps.g.outputs.message }}" = "hello local/repository world"
          test "\${{ steps.g.outputs.shout }}" = "WORLD"
          test "$FROM_ACTION" = set-in-composite
          test -z "$CALLER_STEP_ENV"
          hello-tool
`);
    if (r.result !== 'success') console.log(lines.join('\n'));
    expect(r.result).toBe('success');
    expect(steps[0]?.outputs).toEqual({ message: 'hello local/repository world', shout: 'WORLD' });
    expect(lines).toContain('hello-tool-ran');
    expect(manager.list()).toEqual([]);
  });

  it('fails a step, naming why, for missing, bad, looping, failing and under-given actions', async (ctx) => {
    if (skip) ctx.skip();
    const step = (uses: string, extra = '') =>
      `      - uses: ${uses}\n        continue-on-error: true\n${extra}`;
    const { r, steps } = await run(`
on: push
jobs:
  refused:
    runs-on: ubuntu-latest
    steps:
${step('./missing-action')}
${step('./bad')}
${step('./.github/actions/greet')}
${step('./loop')}
${step('./fails')}
${step('docker://alpine:3')}
      - run: |
          head -c 300000 /dev/zero | tr '\\0' a > big.yml
          mkdir -p big && mv big.yml big/action.yml
${step('./big')}
${step('./fails', '        timeout-minutes: 5\n')}
${step('./slow', '        timeout-minutes: 0.02\n')}
`);
    expect(r.result).toBe('success');
    const [missing, bad, required, loop, fails, docker, , big, , slow] = steps;
    expect(missing?.outcome).toBe('failure');
    expect(missing?.error).toMatch(
      /no action\.yml or action\.yaml could be read in \/home\/user\/missing-action/,
    );
    expect(bad?.error).toContain('action file /home/user/bad/action.yml');
    expect(bad?.error).toContain("'runs.using' is 'java'");
    expect(required?.error).toContain("input 'who' is required");
    expect(loop?.outcome).toBe('failure');
    expect(loop?.log).toContain('nested more than 10 actions deep');
    expect(fails?.outcome).toBe('failure');
    expect(fails?.error).toContain("action './fails' failed at 'Run exit 3'");
    expect(docker?.error).toContain('docker image');
    expect(big?.error).toContain('could be read in /home/user/big (the file is larger than 262144 bytes)');
    expect(slow?.outcome).toBe('failure');
    expect(slow?.log).toContain('ran past its time limit');
    for (const s of steps) expect(s.conclusion).toBe('success');
  });
});

describe('action files', () => {
  it.for([
    ['runs: [', /action file a\.yml: .*(flow|collection|end)/i],
    ['- just a list', /the file is not a mapping/],
    ['name: x', /'runs' is missing/],
    ['runs:\n  using: composite\n  steps: {}', /'runs\.steps' must be a list/],
    [
      'runs:\n  using: composite\n  steps:\n    - name: nothing',
      /runs\.steps\[0\] needs exactly one of run or uses/,
    ],
    ['runs:\n  using: composite\n  steps:\n    - run: x\n      id: 9bad', /runs\.steps\[0\]\.id must start/],
    ['runs:\n  using: node20', /'runs\.main' must name the script/],
    ['inputs: 3\nruns:\n  using: composite\n  steps: []', /'inputs' must be a mapping/],
    [
      'a: &a [x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\nruns: {using: composite, steps: []}',
      /action file a\.yml: .*alias/i,
    ],
  ] as const)('refuses %j naming the file and the problem', ([text, problem]) => {
    expect(() => parseActionFile('a.yml', text)).toThrow(problem);
  });

  it('reads inputs, outputs and steps with their expressions', () => {
    const def = parseActionFile(
      'a.yml',
      `inputs:\n  x: {required: true}\n  y: {default: "\${{ github.sha }}"}\noutputs:\n  o: {value: "\${{ steps.s.outputs.v }}"}\nruns:\n  using: composite\n  steps:\n    - id: s\n      if: inputs.x\n      run: echo \${{ inputs.x }}\n      shell: bash\n`,
    );
    expect(def.inputs.x).toEqual({ required: true });
    expect(def.inputs.y?.default).toEqual({ kind: 'expr', expr: 'github.sha' });
    expect(def.outputs.o).toEqual({ kind: 'expr', expr: 'steps.s.outputs.v' });
    expect(def.runs.using === 'composite' && def.runs.steps[0]).toMatchObject({
      id: 's',
      hasUserId: true,
      if: 'success() && (inputs.x)',
    });
  });
});

describe('uses: the actions directory and built-in actions', () => {
  it('runs composite and node actions copied from the actions directory, and the setup actions', async (ctx) => {
    if (skip) ctx.skip();
    const { r, lines, steps } = await run(`
on: push
jobs:
  remote:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: setup
        uses: actions/setup-node@v4
        with:
          node-version: 18
      - uses: actions/setup-python@v5
      - id: tools
        uses: acme/tools@v1
        with:
          name: ada
      - id: node
        uses: acme/tools/hello-node@v1
        with:
          name: grace
      - run: |
          test "\${{ steps.tools.outputs.said }}" = "tools-data ada"
          test "\${{ steps.node.outputs.greeting }}" = "hi grace"
          test -n "\${{ steps.setup.outputs.node-version }}"
`);
    if (r.result !== 'success') console.log(lines.join('\n'));
    expect(r.result).toBe('success');
    expect(lines).toContain('node action ran');
    expect(lines.some((l) => /actions\/setup-node: using the image's node \d+\.\d+/.test(l))).toBe(true);
    expect(lines.some((l) => /actions\/setup-python: using the image's python3 3\.\d+/.test(l))).toBe(true);
    expect(steps.map((s) => s.outcome)).toEqual(Array(6).fill('success'));
  });

  it('refuses an action not in the directory, a node action with post, and a docker action', async (ctx) => {
    if (skip) ctx.skip();
    const { r, steps } = await run(`
on: push
jobs:
  refused:
    runs-on: ubuntu-latest
    steps:
      - uses: someone/thing@v1
        continue-on-error: true
      - uses: acme/post@v1
        continue-on-error: true
      - uses: acme/boxed@v2
        continue-on-error: true
      - uses: acme@v1
        continue-on-error: true
`);
    expect(r.result).toBe('success');
    const [missing, post, docker, malformed] = steps;
    expect(missing?.error).toContain("action 'someone/thing@v1' is not in the actions directory");
    expect(missing?.error).toContain(actionsDir);
    expect(post?.error).toContain('has a post script');
    expect(docker?.error).toContain('runs.using: docker');
    expect(malformed?.error).toContain('expected ./path, docker://image or {owner}/{repo}[/path]@ref');
  });
});
