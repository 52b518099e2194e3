/**
 * `hearth workflow runs | debug | retry | delete` as a user runs them: the CLI from source in a
 * child process on the test's state directory, `debug` driven through a host pseudo-terminal.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settledLeftovers } from './leak-check.js';
import { CLI, ROOT } from './serve-fixture.js';
import { FOUR_STEPS, openRunsWorld, type RunsWorld } from './workflow-runs-fixture.js';

let w: RunsWorld;
let env: NodeJS.ProcessEnv;
const owners: number[] = [];

beforeAll(async () => {
  w = await openRunsWorld();
  // The CLI shares the world's state directory: its database and workflow-snapshots folder.
  env = {
    ...process.env,
    HEARTH_STATE_DIR: w.dir,
    HEARTH_DB: join(w.dir, 'hearth.db'),
    HEARTH_RUN_DIR: join(w.dir, 'run'),
    HEARTH_BACKEND: 'bwrap',
    HEARTH_URL: '',
  };
});

afterAll(async () => {
  await w?.close();
  expect(await settledLeftovers({ ownerPids: [process.pid, ...owners], runDir: join(w.dir, 'run') })).toEqual(
    [],
  );
});

function hearth(args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env });
    if (child.pid !== undefined) owners.push(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end();
  });
}

/** The CLI in a pseudo-terminal: once `ready` is printed, `input` is typed. */
function inTerminal(args: string[], ready: string, input: string) {
  const r = spawnSync(
    'python3',
    [
      join(ROOT, 'test/workflow-runs-pty.py'),
      JSON.stringify([process.execPath, ...CLI, ...args]),
      ready,
      input,
    ],
    { cwd: ROOT, env, encoding: 'utf8', timeout: 150_000 },
  );
  const out = JSON.parse(r.stdout) as { output: string; exitCode: number; pid: number };
  owners.push(out.pid);
  return out;
}

describe('hearth workflow runs, debug, retry, delete', () => {
  let failed = '';

  it('lists a failed run and opens a shell where the files of steps 1–2 are', async (ctx) => {
    if (w.skip) ctx.skip();
    writeFileSync(join(w.repo, 'config.txt'), 'bad\n');
    failed = (
      await w.runs.execute({
        workflowContent: FOUR_STEPS,
        workflowPath: w.workflowPath,
        repositoryDir: w.repo,
        secrets: { TOKEN: 's3cr3t-value' },
      })
    ).runId;
    const list = await hearth(['workflow', 'runs', '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ id: failed, status: 'failure' })]);

    const t = inTerminal(
      ['workflow', 'debug', failed],
      'type exit',
      'cat counter.txt; cat out/a.txt; echo "env=$FROM_TWO"; tty; exit 7\n',
    );
    expect(t.output).toContain('step 3 "third" of job build failed (exit code 1)');
    expect(t.output).toContain('test "$(cat config.txt)" = good');
    expect(t.output).toContain('after step 2');
    // Steps 1–2's files and env, in a shell with a terminal of its own.
    expect(t.output).toMatch(/one\r*\ntwo\r*\n/);
    expect(t.output).toContain('built');
    expect(t.output).toContain('env=yes');
    expect(t.output).toMatch(/\/dev\/pts\/\d+/);
    expect(t.exitCode).toBe(7);
    // The debug sandbox was released: no lease rows left in the state's database.
    expect(await w.store.sandboxes.listSandboxes()).toEqual([]);
  });

  it('frees the debug sandbox when the CLI is killed', async (ctx) => {
    if (w.skip) ctx.skip();
    const t = inTerminal(['workflow', 'debug', failed], 'type exit', 'SIGTERM');
    expect(t.output).toContain('type exit');
    expect(t.exitCode).toBe(130);
    expect(await w.store.sandboxes.listSandboxes()).toEqual([]);
    expect(await settledLeftovers({ ownerPids: [t.pid], runDir: join(w.dir, 'run') })).toEqual([]);
  });

  it('retries from step 3 after the fix and prints the carried-over steps', async (ctx) => {
    if (w.skip) ctx.skip();
    writeFileSync(join(w.repo, 'config.txt'), 'good\n');
    const r = await hearth(['workflow', 'retry', failed, '--from-step', '3', '-s', 'TOKEN=s3cr3t-value']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('[build] fourth | counted-twice');
    expect(r.stdout).not.toContain('[build] first');
    expect(r.stdout).toMatch(new RegExp(`1 +first +success +carried over from run ${failed}`));
    expect(r.stdout).toMatch(/3 +third +success/);
    const runs = await w.store.workflowRuns.listRuns({ limit: 5 });
    expect(runs[0]).toMatchObject({ retryOf: failed, status: 'success', secretNames: ['TOKEN'] });
  });

  it('fails clearly: an unknown run, a step out of range; deletes a run and its snapshots', async (ctx) => {
    if (w.skip) ctx.skip();
    const unknown = await hearth(['workflow', 'retry', 'no-such-run']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('[WORKFLOW_RUN_NOT_FOUND]');
    expect(unknown.stderr).toContain('hint:');
    const range = await hearth(['workflow', 'retry', failed, '--from-step', '5']);
    expect(range.code).toBe(2);
    expect(range.stderr).toContain('[WORKFLOW_STEP_OUT_OF_RANGE]');
    const snaps = await w.store.workflowRuns.listSnapshots({ runId: failed });
    expect(snaps.length).toBe(2);
    const del = await hearth(['workflow', 'delete', failed]);
    expect(del.code).toBe(0);
    for (const s of snaps) expect(existsSync(s.dir)).toBe(false);
    expect(await w.store.workflowRuns.getRun(failed)).toBeUndefined();
    const debugGone = await hearth(['workflow', 'debug', failed]);
    expect(debugGone.code).toBe(2);
    expect(debugGone.stderr).toContain('[WORKFLOW_RUN_NOT_FOUND]');
    const runDir = join(w.dir, 'run');
    expect(existsSync(runDir) ? readdirSync(runDir).filter((n) => n.startsWith('bwrap-')) : []).toEqual([]);
  });
});
