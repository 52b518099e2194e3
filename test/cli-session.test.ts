import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT } from './serve-fixture.js';
import { type SessionServer, startSessionServer } from './session-server-fixture.js';

// `hearth session …` from source against a real `hearth serve` (bwrap), as a user runs it.
describe('hearth session', () => {
  let server: SessionServer;
  let dir: string;
  let id: string;

  function hearth(args: string[], input?: string, env: NodeJS.ProcessEnv = {}) {
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [...CLI, ...args], {
        cwd: ROOT,
        env: { ...process.env, HEARTH_URL: server.url, HEARTH_TOKEN: server.token, ...env },
      });
      if (child.pid !== undefined) server.owners.push(child.pid);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c) => (stdout += c));
      child.stderr.on('data', (c) => (stderr += c));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(input ?? '');
    });
  }

  beforeAll(async () => {
    server = await startSessionServer();
    dir = mkdtempSync(join(tmpdir(), 'hearth-cli-session-'));
    const r = await hearth(['session', 'create', '-l', 'python', '--meta', 'suite=cli']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    id = r.stdout.trim();
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    expect(await server.close()).toEqual([]);
  });

  it('create prints the id; get and list (--json, --meta) show it', async () => {
    const got = await hearth(['session', 'get', id, '--json']);
    expect(JSON.parse(got.stdout)).toMatchObject({ id, state: 'running', backend: 'bwrap' });
    const table = await hearth(['session', 'list']);
    expect(table.stdout).toMatch(/^ID\s+STATE/);
    expect(table.stdout).toContain(id);
    const listed = JSON.parse((await hearth(['session', 'list', '--meta', 'suite=cli', '--json'])).stdout);
    expect(listed.map((s: { id: string }) => s.id)).toEqual([id]);
  });

  it("exec streams output and exits with the command's code; several words run as argv", async () => {
    expect(await hearth(['session', 'exec', id, 'echo out; echo err >&2; exit 3'])).toEqual({
      code: 3,
      stdout: 'out\n',
      stderr: 'err\n',
    });
    const argv = await hearth(['session', 'exec', id, '--', 'printf', '%s|', 'a b', '$HOME']);
    expect(argv).toMatchObject({ code: 0, stdout: 'a b|$HOME|' });
    const stdin = await hearth(['session', 'exec', id, '--stdin', '-', 'tr a-z A-Z'], 'shout');
    expect(stdin.stdout).toBe('SHOUT');
    const live = await hearth(
      ['session', 'exec', id, '-i', 'read a; read b; echo "$b $a"; exit 4'],
      'one\ntwo\n',
    );
    expect(live).toMatchObject({ code: 4, stdout: 'two one\n' });
    const json = JSON.parse((await hearth(['session', 'exec', id, '--json', 'echo j'])).stdout);
    expect(json).toMatchObject({ exitCode: 0, stdout: 'j\n' });
  });

  it('code keeps variables, prints the last value, and exits 1 with the traceback on an error', async () => {
    expect((await hearth(['session', 'code', id, '-c', 'x = 6'])).code).toBe(0);
    expect(await hearth(['session', 'code', id, '-c', 'print("p")\nx * 7'])).toMatchObject({
      code: 0,
      stdout: 'p\n42\n',
    });
    const file = join(dir, 'boom.py');
    writeFileSync(file, 'raise KeyError("k")\n');
    const bad = await hearth(['session', 'code', id, file]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('KeyError');
  });

  it('files: put, cat, ls, mkdir, rm', async () => {
    const local = join(dir, 'up.bin');
    writeFileSync(local, Buffer.from([1, 2, 3, 0, 255]));
    expect((await hearth(['session', 'files', 'put', id, local, 'up/one.bin'])).code).toBe(0);
    expect((await hearth(['session', 'files', 'put', id, '-', 'up/two.txt'], 'from stdin')).code).toBe(0);
    expect((await hearth(['session', 'files', 'cat', id, 'up/two.txt'])).stdout).toBe('from stdin');
    expect((await hearth(['session', 'files', 'mkdir', id, 'up/sub'])).code).toBe(0);
    const ls = JSON.parse((await hearth(['session', 'files', 'ls', id, 'up', '--json'])).stdout);
    expect(ls.map((e: { name: string }) => e.name).sort()).toEqual(['one.bin', 'sub', 'two.txt']);
    const one = ls.find((e: { name: string }) => e.name === 'one.bin');
    expect(one).toMatchObject({ type: 'file', size: 5 });
    expect((await hearth(['session', 'files', 'rm', id, '-r', 'up'])).code).toBe(0);
    const gone = await hearth(['session', 'files', 'cat', id, 'up/two.txt']);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain('[FILE_NOT_FOUND]');
    expect(readFileSync(local).length).toBe(5);
  });

  it('snapshot, snapshots, restore, fork, snapshot-rm', async () => {
    await hearth(['session', 'exec', id, 'echo kept > /tmp/s.txt']);
    const snap = (await hearth(['session', 'snapshot', id, '--name', 'cli'])).stdout.trim();
    await hearth(['session', 'exec', id, 'echo lost > /tmp/s.txt']);
    expect((await hearth(['session', 'restore', id, snap])).code).toBe(0);
    expect((await hearth(['session', 'exec', id, 'cat /tmp/s.txt'])).stdout).toBe('kept\n');
    const snaps = await hearth(['session', 'snapshots', id]);
    expect(snaps.stdout).toContain(snap);

    const forked = (await hearth(['session', 'fork', snap])).stdout.trim();
    expect(forked).not.toBe(id);
    expect((await hearth(['session', 'exec', forked, 'cat /tmp/s.txt'])).stdout).toBe('kept\n');
    expect((await hearth(['session', 'rm', forked])).code).toBe(0);
    expect((await hearth(['session', 'snapshot-rm', snap])).code).toBe(0);
    expect(JSON.parse((await hearth(['session', 'snapshots', id, '--json'])).stdout)).toEqual([]);
  });

  it('a memory snapshot of a bwrap session exits 2 with SNAPSHOT_KIND_UNSUPPORTED and a hint', async () => {
    const mem = await hearth(['session', 'snapshot', id, '--kind', 'memory']);
    expect(mem.code).toBe(2);
    expect(mem.stderr).toMatch(/\[SNAPSHOT_KIND_UNSUPPORTED\]\nhint: /);
  });

  it('extend moves the expiry; rm ends it; errors exit 2 with their code and hint', async () => {
    const before = JSON.parse((await hearth(['session', 'get', id, '--json'])).stdout).expiresAt;
    const after = JSON.parse((await hearth(['session', 'extend', id, '7200000', '--json'])).stdout).expiresAt;
    expect(Date.parse(after)).toBeGreaterThan(Date.parse(before));
    expect((await hearth(['session', 'rm', id])).code).toBe(0);
    const missing = await hearth(['session', 'get', id]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/\[SESSION_NOT_FOUND\]\nhint: /);
    const badFlag = await hearth(['session', 'create', '--ttl', 'soon']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain('[VALIDATION_FAILED]');
    const noToken = await hearth(['session', 'list'], undefined, { HEARTH_TOKEN: '' });
    expect(noToken.stderr).toContain('[UNAUTHORIZED]');
  });
});
