/**
 * The act fixtures that need act's command-line inputs (secrets and env files, --input, an event
 * payload, --matrix), replayed through `hearth workflow run` (dist/cli.js) on bwrap with the values
 * act's tests used (EXPECTED.tsv notes), each result compared with EXPECTED.tsv. A fixture listed in
 * conformance/workflow-act-disagreements.tsv must disagree as recorded there.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACT } from './act-corpus.js';
import { settledLeftovers } from './leak-check.js';
import { cliMissing, workflowCli } from './workflow-cli-fixture.js';

const DISAGREEMENTS = join(import.meta.dirname, 'conformance', 'workflow-act-disagreements.tsv');
const DISPATCH_EVENT = { inputs: { required: 'required input', boolean: 'true' } };

/** Each fixture with the arguments act's test gave it (files are written to a temp dir first). */
const CASES: Array<{ name: string; args: (tmp: string) => string[] }> = [
  {
    name: 'secrets',
    args: (tmp) => ['run', 'push', '--secret-file', join(tmp, '.secrets'), '--env-file', join(tmp, '.env')],
  },
  { name: 'input-from-cli', args: () => ['run', 'workflow_dispatch', '--input', 'SOME_INPUT=input'] },
  { name: 'workflow_dispatch', args: (tmp) => ['run', 'workflow_dispatch', '-e', join(tmp, 'event.json')] },
  { name: 'workflow_call_inputs', args: (tmp) => ['run', 'workflow_call', '-e', join(tmp, 'event.json')] },
  {
    name: 'matrix-with-user-inclusions',
    args: () => ['run', 'push', '--matrix', 'node:8', '--matrix', 'node:8.x', '--matrix', 'os:ubuntu-18.04'],
  },
];

const owners: number[] = [];
let tmp: string;
const skip = cliMissing() ?? (existsSync(join(ACT, 'EXPECTED.tsv')) ? undefined : `no act corpus at ${ACT}`);

function expected(name: string): string | undefined {
  for (const line of readFileSync(join(ACT, 'EXPECTED.tsv'), 'utf8').split('\n')) {
    const cols = line.split('\t');
    if (cols[0] !== name || cols[7] !== name) continue;
    const want = cols[2] ?? '';
    return want.startsWith('error') ? 'error' : want.includes('success') ? 'success' : want;
  }
  return undefined;
}

/** What the disagreements file says hearth gives for the fixture, if it lists it. */
function recorded(name: string): string | undefined {
  for (const line of readFileSync(DISAGREEMENTS, 'utf8').split('\n')) {
    const cols = line.split('\t');
    if (cols[0] === name) return cols[2];
  }
  return undefined;
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'hearth-wf-act-cli-'));
  writeFileSync(
    join(tmp, '.secrets'),
    'MY_SECRET=top-secret\nMULTILINE_SECRET="foo\\nbar\\nbaz"\nJSON_SECRET={"foo": "bar"}\n',
  );
  writeFileSync(join(tmp, '.env'), 'HELLO=WORLD\nMULTILINE_ENV="foo\\nbar\\nbaz"\n');
  writeFileSync(join(tmp, 'event.json'), JSON.stringify(DISPATCH_EVENT));
});

afterAll(async () => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  expect(await settledLeftovers({ ownerPids: owners })).toEqual([]);
});

describe.skipIf(skip)('act fixtures through hearth workflow run', () => {
  it.for(CASES)('$name', async ({ name, args }) => {
    const fixture = join(ACT, name);
    // act's tests give the fixture's directory as the workflows path (-W), as here.
    const r = await workflowCli([...args(tmp), '-W', '.', '--no-advice'], {
      cwd: fixture,
      stateDir: join(tmp, 'state'),
      owners,
    });
    // act's runner tests assert only that an error occurred; a usage error (2) is hearth's refusal.
    const result = r.code === 0 ? 'success' : r.code === 2 ? 'error' : 'failure';
    const want = recorded(name) ?? expected(name);
    if (result !== want) console.log(r.stdout, r.stderr);
    expect(expected(name)).toBeDefined();
    expect(result).toBe(want);
    if (name === 'secrets') expect(r.stdout + r.stderr).not.toContain('top-secret');
    if (name === 'matrix-with-user-inclusions') {
      // Only the legs --matrix keeps: without the filter the node 4, 6 and 10 legs would fail.
      expect(r.stdout).toContain('[matrix-with-user-inclusions/PHP ubuntu-18.04 8]');
      expect(r.stdout).not.toMatch(/PHP (macos-latest|ubuntu-16\.04)|PHP ubuntu-18\.04 (4|6|10)\]/);
    }
    if (name === 'input-from-cli') {
      // Its NAME and SOME_VALUE inputs are required and not given: act runs it, hearth warns and runs it.
      expect(r.stderr).toContain("the required input 'NAME' has no value");
    }
    if (name === 'workflow_call_inputs') expect(r.stderr).toContain('Required property is missing: type');
  });
});
