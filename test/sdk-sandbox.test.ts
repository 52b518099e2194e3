import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  CommandExitError,
  HearthApiError,
  NotFoundError,
  Sandbox,
  SnapshotError,
  TimeoutError,
} from '../src/sdk/index.js';
import { type SessionServer, startSessionServer } from './session-server-fixture.js';

// The SDK against a real `hearth serve` on port 0, sessions on bwrap.
describe('SDK Sandbox', () => {
  let server: SessionServer;
  let sbx: Sandbox;
  const conn = () => ({ baseUrl: server.url, token: server.token });

  beforeAll(async () => {
    server = await startSessionServer();
    sbx = await Sandbox.create({ ...conn(), language: 'python', metadata: { suite: 'sdk' } });
  });
  afterAll(async () => {
    await sbx?.kill();
    expect(await server.close()).toEqual([]);
  });

  it('creates a session that connect() and list() find by id and metadata', async () => {
    const info = await sbx.getInfo();
    expect(info).toMatchObject({ id: sbx.sandboxId, state: 'running', backend: 'bwrap' });
    const again = await Sandbox.connect(sbx.sandboxId, conn());
    expect((await again.getInfo()).id).toBe(sbx.sandboxId);
    const listed = await Sandbox.list({ ...conn(), metadata: { suite: 'sdk' } });
    expect(listed.map((s) => s.id)).toEqual([sbx.sandboxId]);
    await expect(Sandbox.connect('no-such-session', conn())).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses a client without the token with an AuthenticationError', async () => {
    const err = await Sandbox.list({ baseUrl: server.url, token: 'wrong' }).catch((e) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
  });

  it('commands.run streams output, and a non-zero exit throws CommandExitError carrying the result', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const r = await sbx.commands.run('echo one; echo two >&2', {
      onStdout: (d) => out.push(d),
      onStderr: (d) => err.push(d),
    });
    expect(r).toMatchObject({ exitCode: 0, stdout: 'one\n', stderr: 'two\n', state: 'exited' });
    expect(out.join('')).toBe('one\n');
    expect(err.join('')).toBe('two\n');

    const failed = await sbx.commands.run('echo partial; exit 3').catch((e) => e);
    expect(failed).toBeInstanceOf(CommandExitError);
    expect(failed).toBeInstanceOf(HearthApiError);
    expect(failed).toMatchObject({ exitCode: 3, stdout: 'partial\n' });
  });

  it('commands.run passes cwd and envs, and a command past its timeout throws TimeoutError', async () => {
    const r = await sbx.commands.run('pwd; echo "$GREETING"', { cwd: '/tmp', envs: { GREETING: 'hi' } });
    expect(r.stdout).toBe('/tmp\nhi\n');
    const slow = await sbx.commands.run('sleep 30', { timeoutMs: 300 }).catch((e) => e);
    expect(slow).toBeInstanceOf(TimeoutError);
    expect(slow.details.result).toMatchObject({ timedOut: true });
  });

  it("the caller's AbortSignal stops a streamed command, and the server ends it", async () => {
    const ctrl = new AbortController();
    const run = sbx.commands.run('echo started; sleep 30', {
      onStdout: () => ctrl.abort(new Error('enough')),
      signal: ctrl.signal,
    });
    await expect(run).rejects.toThrow('enough');
    // The server saw the stream go and killed the command: nothing of it is left running.
    let running = true;
    for (let i = 0; i < 100 && running; i++) {
      running = (await sbx.commands.list()).some((c) => c.state === 'running');
      if (running) await new Promise((r) => setTimeout(r, 100));
    }
    expect(running).toBe(false);
  });

  it('a background command returns a handle: wait() gives its output, kill() ends it', async () => {
    const seen: string[] = [];
    const h = await sbx.commands.run('echo start; sleep 0.3; echo done', {
      background: true,
      onStdout: (d) => seen.push(d),
    });
    expect(h.id).toBeTruthy();
    const r = await h.wait();
    expect(r.stdout).toBe('start\ndone\n');
    expect(seen.join('')).toBe('start\ndone\n');

    const long = await sbx.commands.run('sleep 60', { background: true });
    expect((await sbx.commands.list()).some((c) => c.id === long.id && c.state === 'running')).toBe(true);
    await long.kill();
    const killed = await long.wait().catch((e) => e);
    expect(killed).toBeInstanceOf(CommandExitError);
    expect(killed.signal).toBe('SIGKILL');
  });

  it('commands.spawn: a live stdin over a WebSocket, and a signal that ends the command', async () => {
    let out = '';
    let echoed: () => void = () => {};
    const seen = new Promise<void>((r) => {
      echoed = r;
    });
    const cat = await sbx.commands.spawn('cat', {
      onStdout: (d) => {
        out += d;
        if (out.includes('ping')) echoed();
      },
    });
    cat.sendStdin('ping\n');
    await seen;
    cat.closeStdin();
    expect(await cat.wait()).toMatchObject({ exitCode: 0, stdout: 'ping\n' });

    const sleeper = await sbx.commands.spawn(['sleep', '60']);
    sleeper.kill('SIGTERM');
    expect(await sleeper.wait()).toMatchObject({ exitCode: null, signal: 'SIGTERM' });
  });

  it('runCode keeps variables between calls and maps results, logs and errors as E2B does', async () => {
    await sbx.runCode('x = 41');
    const chunks: string[] = [];
    const e = await sbx.runCode('print("hello")\nx + 1', { onStdout: (d) => chunks.push(d) });
    expect(e.text).toBe('42');
    expect(e.results[0]?.isMainResult).toBe(true);
    expect(e.logs.stdout.join('')).toBe('hello\n');
    expect(chunks.join('')).toBe('hello\n');
    expect(e.error).toBeUndefined();

    const bad = await sbx.runCode('1/0');
    expect(bad.error).toMatchObject({ name: 'ZeroDivisionError' });
    expect(bad.error?.traceback).toContain('ZeroDivisionError');
    expect(bad.executionCount).toBeGreaterThan(e.executionCount);
  });

  it('rich results on the data image: a DataFrame as html, a figure as png (E2B Result fields)', async () => {
    const data = await Sandbox.create('python-data', conn());
    try {
      const df = await data.runCode('import pandas as pd\ndf = pd.DataFrame({"a": [1, 2]})\ndf');
      expect(df.results[0]?.html).toContain('<table');
      expect(df.results[0]?.formats()).toContain('html');
      const fig = await data.runCode(
        'import matplotlib\nmatplotlib.use("Agg")\nimport matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.gcf()',
        { timeoutMs: 120_000 },
      );
      expect(
        Buffer.from(fig.results[0]?.png ?? '', 'base64')
          .subarray(1, 4)
          .toString(),
      ).toBe('PNG');
    } finally {
      await data.kill();
    }
  });

  it('code contexts have their own variables', async () => {
    const ctx = await sbx.createCodeContext({ language: 'python' });
    await sbx.runCode('y = "mine"', { context: ctx });
    expect((await sbx.runCode('y', { context: ctx })).text).toBe("'mine'");
    const elsewhere = await sbx.runCode('y');
    expect(elsewhere.error).toMatchObject({ name: 'NameError' });
    expect((await sbx.listCodeContexts()).map((c) => c.id)).toContain(ctx.id);
    await sbx.removeCodeContext(ctx);
  });

  it('files: write, read (text and bytes), list, exists, makeDir, rename, remove', async () => {
    await sbx.files.write('data/a.txt', 'hello');
    expect(await sbx.files.read('data/a.txt')).toBe('hello');
    const bytes = Buffer.from([0, 1, 2, 255, 254]);
    await sbx.files.write('data/b.bin', bytes);
    expect(Buffer.compare(await sbx.files.read('data/b.bin', { format: 'bytes' }), bytes)).toBe(0);
    const names = (await sbx.files.list('data')).map((e) => e.name).sort();
    expect(names).toEqual(['a.txt', 'b.bin']);
    expect(await sbx.files.exists('data/a.txt')).toBe(true);
    expect(await sbx.files.exists('data/none.txt')).toBe(false);
    expect(await sbx.files.makeDir('data/sub')).toBe(true);
    expect(await sbx.files.makeDir('data/sub')).toBe(false);
    await sbx.files.rename('data/a.txt', 'data/sub/c.txt');
    expect(await sbx.files.read('data/sub/c.txt')).toBe('hello');
    await sbx.files.remove('data');
    expect(await sbx.files.exists('data')).toBe(false);
    const missing = await sbx.files.read('data/a.txt').catch((e) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing.code).toBe('FILE_NOT_FOUND');
  });

  it('snapshots: restore brings back the files of the snapshot; fork starts a new session from it', async () => {
    await sbx.files.write('before.txt', 'kept');
    const snap = await sbx.snapshots.create({ name: 'one' });
    expect(snap).toMatchObject({ name: 'one', kind: 'filesystem', sessionId: sbx.sandboxId });
    await sbx.files.write('after.txt', 'gone');
    await sbx.snapshots.restore(snap);
    expect(await sbx.files.read('before.txt')).toBe('kept');
    expect(await sbx.files.exists('after.txt')).toBe(false);
    expect((await sbx.snapshots.list()).map((s) => s.id)).toEqual([snap.id]);

    const fork = await Sandbox.fork(snap, conn());
    try {
      expect(fork.sandboxId).not.toBe(sbx.sandboxId);
      expect(await fork.files.read('before.txt')).toBe('kept');
      await fork.files.write('before.txt', 'changed in the fork');
      expect(await sbx.files.read('before.txt')).toBe('kept');
    } finally {
      await fork.kill();
    }
    await sbx.snapshots.delete(snap);
    expect(await sbx.snapshots.list()).toEqual([]);
  });

  it('a memory snapshot of a bwrap session is a SnapshotError with its code (409)', async () => {
    const err = await sbx.snapshots.create({ kind: 'memory' }).catch((e) => e);
    expect(err).toBeInstanceOf(SnapshotError);
    expect(err).toMatchObject({ status: 409, code: 'SNAPSHOT_KIND_UNSUPPORTED' });
    expect(err.hint).not.toBe('');
  });

  it('setTimeout moves the expiry; kill ends the session and is safe to call twice', async () => {
    const before = Date.parse((await sbx.getInfo()).expiresAt);
    await sbx.setTimeout(3 * 60 * 60 * 1000);
    expect(Date.parse((await sbx.getInfo()).expiresAt)).toBeGreaterThan(before);

    // E2B's form: the image (template) first.
    const other = await Sandbox.create('default', conn());
    expect((await other.getInfo()).image).toBe('default');
    await other.kill();
    await other.kill();
    const gone = await other.commands.run('true').catch((e) => e);
    expect(gone).toBeInstanceOf(HearthApiError);
    expect([404, 410]).toContain(gone.status);
    const noSocket = await other.commands.spawn('true').catch((e) => e);
    expect(noSocket).toBeInstanceOf(HearthApiError);
    expect([404, 410]).toContain(noSocket.status);
  });
});
