import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settledLeftovers } from './leak-check.js';
import { CLI, ROOT, startServe } from './serve-fixture.js';

// The CLI from source (the same code dist/cli.js bundles), against a real `hearth serve` child.
/** Every hearth process these tests start: each must free what it created before it exits. */
const owners: number[] = [];

function hearth(args: string[], env: NodeJS.ProcessEnv = {}, input?: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    if (child.pid !== undefined) owners.push(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** Starts `hearth serve --port 0` and resolves with its URL once it listens. */
function startServeOwned(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  return startServe(env, (child) => {
    if (child.pid !== undefined) owners.push(child.pid);
  });
}

describe('CLI end to end', () => {
  let dir: string;
  let serve: { child: ChildProcess; url: string };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-cli-'));
    serve = await startServeOwned({ HEARTH_DB: join(dir, 'hearth.db'), HEARTH_BACKEND: 'bwrap' });
  });
  afterAll(async () => {
    if (serve?.child.exitCode === null) {
      const exited = new Promise((r) => serve.child.once('exit', r));
      serve.child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
    expect(await settledLeftovers({ ownerPids: [process.pid, ...owners] })).toEqual([]);
  });

  it('hearth run --backend bwrap -l python -c prints 42 (embedded, no server)', async () => {
    const r = await hearth(['run', '--backend', 'bwrap', '-l', 'python', '-c', 'print(6*7)'], {
      HEARTH_URL: '',
    });
    expect(r).toMatchObject({ code: 0, stdout: '42\n' });
  });

  it("hearth run exits with the program's code, takes stdin and the language from the extension", async () => {
    const file = join(dir, 'rev.py');
    writeFileSync(file, 'import sys\nprint(sys.stdin.read()[::-1])\nsys.exit(7)\n');
    const r = await hearth(['run', file, '--stdin', '-'], { HEARTH_URL: '' }, 'abc');
    expect(r).toMatchObject({ code: 7, stdout: 'cba\n' });
  });

  it('hearth run over HTTP (HEARTH_URL) streams the same output; errors exit 2 with code and hint', async () => {
    const ok = await hearth(['run', '-l', 'bash', '-c', 'echo out; echo err >&2; exit 3'], {
      HEARTH_URL: serve.url,
    });
    expect(ok).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    const bad = await hearth(['run', '-l', 'cobol', '-c', 'x'], { HEARTH_URL: serve.url });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('[UNKNOWN_LANGUAGE]');
    expect(bad.stderr).toMatch(/hint: /);
  });

  it('hearth run --timing prints one timing and usage line on stderr after the output, embedded and over HTTP', async () => {
    const code = 'import sys\nprint("hi")\nprint("warn", file=sys.stderr)\nsys.exit(5)';
    const line =
      /^timing: queued=(\d+)ms start=(\d+)ms run=(\d+)ms total=(\d+)ms cpu=(\d+)ms peak_memory=(\d+)KiB$/;
    for (const url of ['', serve.url]) {
      const r = await hearth(['run', '-l', 'python', '-c', code, '--timing'], { HEARTH_URL: url });
      expect(r.code).toBe(5);
      expect(r.stdout).toBe('hi\n');
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines[0]).toBe('warn');
      expect(lines).toHaveLength(2);
      const m = line.exec(lines[1] ?? '');
      expect(m, lines[1]).not.toBeNull();
      const [queued = 0, , run = 0, total = 0, , peakKb = 0] = (m ?? []).slice(1).map(Number);
      expect(total).toBeGreaterThanOrEqual(run);
      expect(total).toBeGreaterThanOrEqual(queued);
      expect(peakKb).toBeGreaterThan(0);
    }
  });

  it("a compile failure exits with the compiler's code", async () => {
    const r = await hearth(['run', '-l', 'c', '-c', 'int main(void) { return 0 }'], {
      HEARTH_URL: serve.url,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error/);
  });

  it('the classic CLI: go polls /status and prints the output; status prints the job', async () => {
    const file = join(dir, 'hello.py');
    writeFileSync(file, 'print("Hello, World!")\n');
    const go = await hearth(['go', '-l', 'python', '-f', file, '--backend', serve.url]);
    expect(go.code).toBe(0);
    expect(go.stdout).toBe('Hello, World!\n');
    const id = /job (\S+)/.exec(go.stderr)?.[1] ?? '';
    const status = await hearth(['status', id, '--backend', serve.url]);
    expect(JSON.parse(status.stdout)).toMatchObject({ id, status: 'done', exit_code: 0 });
  });

  it('jobs list and languages read from the server', async () => {
    const list = await hearth(['jobs', 'list', '--json'], { HEARTH_URL: serve.url });
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).length).toBeGreaterThan(0);
    const langs = await hearth(['languages', '--json'], { HEARTH_URL: serve.url });
    expect(JSON.parse(langs.stdout).map((l: { name: string }) => l.name)).toContain('python');
  });

  it('hearth serve stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((r) => serve.child.once('exit', (code) => r(code)));
    serve.child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
