import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { CodeResult, CommandResult, Session } from '../src/api/sessions.js';
import { hearthPaths } from '../src/config/paths.js';
import { parseSse } from '../src/sdk/sse.js';
import { type RunningServer, startServer } from '../src/server/start.js';
import { settledLeftovers } from './leak-check.js';

// A real server on port 0 with a real SQLite file and real bwrap sandboxes, driven over HTTP.
let server: RunningServer;
let dir: string;

type Answer<T> = { status: number; body: T & { error?: { code: string; message: string } } };

async function call<T = unknown>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    ...(body !== undefined
      ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
      : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

const create = async (body: object = {}) => {
  const r = await call<Session>('POST', '/v1/sessions', body);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
};
const command = (id: string, body: object) =>
  call<CommandResult>('POST', `/v1/sessions/${id}/commands`, body);
const code = (id: string, body: object) => call<CodeResult>('POST', `/v1/sessions/${id}/code`, body);

describe('sessions over HTTP on bwrap', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-sessions-'));
    process.env.HEARTH_BACKEND = 'bwrap';
    process.env.HEARTH_MAX_SESSIONS = '3';
    server = await startServer({
      port: 0,
      paths: { ...hearthPaths(), db: join(dir, 'hearth.db'), snapshots: join(dir, 'snapshots') },
      logger: false,
      shutdownGraceMs: 0,
    });
  });
  afterEach(async () => {
    // A failed case must not leave its sessions to count against the next one's limit.
    const { body } = await call<{ sessions: Session[] }>('GET', '/v1/sessions');
    for (const s of body.sessions ?? []) await call('DELETE', `/v1/sessions/${s.id}`);
  });
  afterAll(async () => {
    await server?.close();
    delete process.env.HEARTH_BACKEND;
    delete process.env.HEARTH_MAX_SESSIONS;
    const snapshotsLeft = (() => {
      try {
        return readdirSync(join(dir, 'snapshots'));
      } catch {
        return [];
      }
    })();
    rmSync(dir, { recursive: true, force: true });
    expect(snapshotsLeft).toEqual([]);
    expect(await settledLeftovers()).toEqual([]);
  });

  it('creates, finds by metadata, extends and deletes a session', async () => {
    const s = await create({ metadata: { owner: 'ana', kind: 'test' } });
    expect(s.state).toBe('running');
    expect(s.backend).toBe('bwrap');
    expect(s.capabilities).toContain('fs-snapshots');
    expect(s.capabilities).not.toContain('memory-snapshots');
    const ttl = Date.parse(s.expiresAt) - Date.parse(s.createdAt);
    expect(ttl).toBe(30 * 60_000);

    const other = await create({ metadata: { owner: 'bo' } });
    const found = await call<{ sessions: Session[] }>('GET', '/v1/sessions?metadata.owner=ana');
    expect(found.body.sessions.map((x) => x.id)).toEqual([s.id]);
    expect((await call('GET', '/v1/sessions?colour=red')).body.error?.code).toBe('VALIDATION_FAILED');

    const extended = await call<Session>('POST', `/v1/sessions/${s.id}/extend`, { ttlMs: 3_600_000 });
    expect(Date.parse(extended.body.expiresAt)).toBeGreaterThan(Date.parse(s.expiresAt));
    const tooLong = await call('POST', `/v1/sessions/${s.id}/extend`, { ttlMs: 365 * 24 * 3600_000 });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error?.code).toBe('LIMIT_TOO_HIGH');

    for (const id of [s.id, other.id]) expect((await call('DELETE', `/v1/sessions/${id}`)).status).toBe(204);
    const gone = await call('GET', `/v1/sessions/${s.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error?.code).toBe('SESSION_NOT_FOUND');
  });

  it('ends a session whose TTL passed, and reports every exec as manager events', async () => {
    const events: Array<{
      type: string;
      what: unknown;
      labels: Record<string, string>;
      exitCode?: number | null;
    }> = [];
    const offStart = server.manager.events.on('exec.started', (e) => events.push({ type: 'started', ...e }));
    const offEnd = server.manager.events.on('exec.finished', (e) => events.push({ type: 'finished', ...e }));
    const s = await create({ ttlMs: 1500 });
    await command(s.id, { argv: ['sh', '-c', 'exit 5'] });
    await code(s.id, { code: '6 * 7' });
    offStart();
    offEnd();
    const mine = events.filter((e) => e.labels.session === s.id);
    expect(mine.map((e) => e.type)).toEqual(['started', 'finished', 'started', 'finished']);
    expect(mine[1]).toMatchObject({ what: { kind: 'command', argv: ['sh', '-c', 'exit 5'] }, exitCode: 5 });
    expect(mine[3]).toMatchObject({ what: { kind: 'code', language: 'python', code: '6 * 7' }, exitCode: 0 });
    let status = 200;
    for (let i = 0; i < 100 && status === 200; i++) {
      status = (await call('GET', `/v1/sessions/${s.id}`)).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(404);
  });

  it('refuses bad creates with a code: unknown image, both image and language, too many sessions', async () => {
    expect((await call('POST', '/v1/sessions', { image: 'nope' })).body.error?.code).toBe('UNKNOWN_IMAGE');
    expect((await call('POST', '/v1/sessions', { image: 'default', language: 'python' })).status).toBe(400);
    expect((await call('POST', '/v1/sessions', { ttlMs: -1 })).body.error?.code).toBe('VALIDATION_FAILED');
    const held = [await create(), await create(), await create()];
    const over = await call('POST', '/v1/sessions', {});
    expect(over.status).toBe(429);
    expect(over.body.error?.code).toBe('SESSION_LIMIT');
    for (const s of held) await call('DELETE', `/v1/sessions/${s.id}`);
  });

  it('runs commands: shell and argv, cwd, env, stdin, exit codes, timeouts, output caps, SSE', async () => {
    const s = await create({ env: { GREETING: 'hi' }, language: 'python' });
    const sh = await command(s.id, {
      cmd: 'echo "$GREETING $EXTRA"; echo oops >&2; exit 3',
      env: { EXTRA: 'there' },
    });
    expect(sh.status).toBe(200);
    expect(sh.body).toMatchObject({ state: 'exited', exitCode: 3, stdout: 'hi there\n', stderr: 'oops\n' });

    await command(s.id, { cmd: 'mkdir -p /tmp/work && echo data > /tmp/work/f' });
    const argv = await command(s.id, { argv: ['cat', 'f'], cwd: '/tmp/work' });
    expect(argv.body.stdout).toBe('data\n');
    const stdin = await command(s.id, { argv: ['tr', 'a-z', 'A-Z'], stdin: 'shout' });
    expect(stdin.body.stdout).toBe('SHOUT');

    const both = await command(s.id, { cmd: 'true', argv: ['true'] });
    expect(both.body.error?.code).toBe('VALIDATION_FAILED');

    // A program that ignores SIGTERM and its deadline is still ended: the tree is killed.
    const stubborn = await command(s.id, { cmd: "trap '' TERM; sleep 600", timeoutMs: 1000 });
    expect(stubborn.body.timedOut).toBe(true);
    const flood = await command(s.id, { cmd: 'yes hearth', timeoutMs: 20_000 });
    expect(flood.body.truncated).toBe(true);
    expect(flood.body.stdout.length).toBeLessThanOrEqual(16 * 1024 * 1024);

    const res = await fetch(`${server.url}/v1/sessions/${s.id}/commands`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ cmd: 'echo one; sleep 0.2; echo two >&2; exit 1' }),
    });
    const events: Array<{ event: string; data: string }> = [];
    if (res.body) for await (const e of parseSse(res.body)) events.push(e);
    expect(events.map((e) => e.event)).toEqual(['stdout', 'stderr', 'result']);
    expect(JSON.parse(events[2]?.data ?? '{}')).toMatchObject({
      exitCode: 1,
      stdout: 'one\n',
      stderr: 'two\n',
    });
    await call('DELETE', `/v1/sessions/${s.id}`);
  });

  it('runs an interactive command over a WebSocket: stdin, close-stdin, signals', async () => {
    const s = await create();
    const talk = (messages: object[], afterStart: (ws: WebSocket) => void) =>
      new Promise<Array<Record<string, unknown>>>((resolve, reject) => {
        const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/sessions/${s.id}/commands/ws`);
        const got: Array<Record<string, unknown>> = [];
        ws.on('open', () => {
          for (const m of messages) ws.send(JSON.stringify(m));
        });
        ws.on('message', (raw) => {
          const msg = JSON.parse(raw.toString()) as Record<string, unknown>;
          got.push(msg);
          if (msg.type === 'started') afterStart(ws);
        });
        ws.on('close', () => resolve(got));
        ws.on('error', reject);
      });
    const echoed = await talk([{ type: 'start', argv: ['cat'] }], (ws) => {
      ws.send(JSON.stringify({ type: 'stdin', data: 'hello\n' }));
      ws.send(JSON.stringify({ type: 'close-stdin' }));
    });
    expect(
      echoed
        .filter((m) => m.type === 'stdout')
        .map((m) => m.data)
        .join(''),
    ).toBe('hello\n');
    expect(echoed.at(-1)).toMatchObject({ type: 'result', result: { exitCode: 0, stdout: 'hello\n' } });

    const signalled = await talk([{ type: 'start', cmd: 'sleep 600' }], (ws) =>
      ws.send(JSON.stringify({ type: 'signal', signal: 'SIGTERM' })),
    );
    expect(signalled.at(-1)).toMatchObject({ type: 'result', result: { signal: 'SIGTERM' } });

    const refused = await talk([{ type: 'stdin', data: 'x' }], () => {});
    expect(refused.at(-1)).toMatchObject({ type: 'error', error: { code: 'VALIDATION_FAILED' } });
  });

  it('runs background commands: list, get with output so far, kill', async () => {
    const s = await create();
    const bg = await command(s.id, { cmd: 'echo started; sleep 600', background: true });
    expect(bg.status).toBe(202);
    expect(bg.body.state).toBe('running');
    let seen: CommandResult | undefined;
    for (let i = 0; i < 50 && !seen?.stdout; i++) {
      seen = (await call<CommandResult>('GET', `/v1/sessions/${s.id}/commands/${bg.body.id}`)).body;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen?.stdout).toBe('started\n');
    const list = await call<{ commands: CommandResult[] }>('GET', `/v1/sessions/${s.id}/commands`);
    expect(list.body.commands.map((c) => c.id)).toContain(bg.body.id);
    const killed = await call<CommandResult>('POST', `/v1/sessions/${s.id}/commands/${bg.body.id}/kill`, {});
    expect(killed.body).toMatchObject({ state: 'exited', signal: 'SIGKILL' });
    const missing = await call('GET', `/v1/sessions/${s.id}/commands/cmd-999`);
    expect(missing.body.error?.code).toBe('COMMAND_NOT_FOUND');
    await call('DELETE', `/v1/sessions/${s.id}`);
  });

  it('keeps interpreter state between code runs, in Python, JavaScript and TypeScript; bash runs as a command', async () => {
    const s = await create();
    expect((await code(s.id, { code: 'x = 41' })).body.error).toBeNull();
    const py = await code(s.id, { code: 'print("side"); x + 1' });
    expect(py.body).toMatchObject({ stdout: 'side\n', result: { text: '42' }, error: null });
    const err = await code(s.id, { code: '1/0' });
    expect(err.body.error).toMatchObject({ name: 'ZeroDivisionError', value: 'division by zero' });
    expect(err.body.error?.traceback).toContain('ZeroDivisionError');
    const loop = await code(s.id, { code: 'while True: pass', timeoutMs: 1000 });
    expect(loop.body.timedOut).toBe(true);
    expect((await code(s.id, { code: 'x' })).body.result?.text).toBe('41');

    await code(s.id, { language: 'javascript', code: 'const y = { a: 1 }' });
    expect((await code(s.id, { language: 'javascript', code: 'y.a + 1' })).body.result?.text).toBe('2');
    const ctx = await call<{ id: string }>('POST', `/v1/sessions/${s.id}/contexts`, {
      language: 'typescript',
    });
    expect(ctx.status).toBe(201);
    await code(s.id, { context: ctx.body.id, code: 'const n: number = 20' });
    expect((await code(s.id, { context: ctx.body.id, code: 'n * 2' })).body.result?.text).toBe('40');
    const bash = await code(s.id, { language: 'bash', code: 'echo $((6 * 7)); exit 2' });
    expect(bash.body).toMatchObject({ stdout: '42\n', error: { name: 'ExitError', value: 'exit code 2' } });
    const contexts = await call<{ contexts: Array<{ id: string; language: string }> }>(
      'GET',
      `/v1/sessions/${s.id}/contexts`,
    );
    expect(contexts.body.contexts.map((c) => c.language).sort()).toEqual([
      'javascript',
      'python',
      'typescript',
    ]);
    const unknown = await code(s.id, { context: 'ctx-ffff', code: '1' });
    expect(unknown.body.error).toMatchObject({ code: 'REPL_CONTEXT_NOT_FOUND' });
    await call('DELETE', `/v1/sessions/${s.id}`);
  });

  it('gives rich results on the data image: a DataFrame as HTML, a figure as PNG, an exception with its traceback', async () => {
    const s = await create({ image: 'python-data' });
    const df = await code(s.id, {
      code: 'import pandas as pd\ndf = pd.DataFrame({"a": [1, 2], "b": [3, 4]})\ndf',
    });
    expect(df.body.error).toBeNull();
    expect(df.body.result?.formats['text/html']).toContain('<table');
    expect(df.body.result?.text).toContain('a  b');
    const fig = await code(s.id, {
      code: 'import matplotlib\nmatplotlib.use("Agg")\nimport matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.gcf()',
      timeoutMs: 120_000,
    });
    expect(fig.body.result?.formats['image/png']?.startsWith('iVBORw0KGgo')).toBe(true);
    const bad = await code(s.id, { code: 'df["missing"]' });
    expect(bad.body.error).toMatchObject({ name: 'KeyError' });
    expect(bad.body.error?.traceback).toContain('missing');
  });

  it('reads, writes (streamed), lists, stats, renames and removes files', async () => {
    const s = await create();
    const big = Buffer.alloc(9 * 1024 * 1024 + 7, 'z');
    const put = await fetch(`${server.url}/v1/sessions/${s.id}/files?path=/tmp/d/big.bin`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: big,
    });
    expect(put.status).toBe(200);
    expect(((await put.json()) as { size: number }).size).toBe(big.length);
    const back = Buffer.from(
      await (await fetch(`${server.url}/v1/sessions/${s.id}/files?path=/tmp/d/big.bin`)).arrayBuffer(),
    );
    expect(back.equals(big)).toBe(true);
    const absent = await fetch(`${server.url}/v1/sessions/${s.id}/files?path=/tmp/d/none.bin`);
    expect(absent.status).toBe(404);
    expect(((await absent.json()) as { error: { code: string } }).error.code).toBe('FILE_NOT_FOUND');
    const empty = await fetch(`${server.url}/v1/sessions/${s.id}/files?path=/tmp/d/empty`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(0),
    });
    expect(empty.status).toBe(200);
    expect(
      (await (await fetch(`${server.url}/v1/sessions/${s.id}/files?path=/tmp/d/empty`)).arrayBuffer())
        .byteLength,
    ).toBe(0);

    expect((await call('POST', `/v1/sessions/${s.id}/files/mkdir?path=/tmp/d/sub/deeper`)).status).toBe(200);
    const list = await call<{ entries: Array<{ path: string; type: string }> }>(
      'GET',
      `/v1/sessions/${s.id}/files/list?path=/tmp/d&depth=2`,
    );
    expect(list.body.entries.map((e) => e.path).sort()).toEqual([
      '/tmp/d/big.bin',
      '/tmp/d/empty',
      '/tmp/d/sub',
      '/tmp/d/sub/deeper',
    ]);
    const moved = await call<{ path: string }>('POST', `/v1/sessions/${s.id}/files/rename`, {
      from: '/tmp/d/big.bin',
      to: '/tmp/d/sub/moved.bin',
    });
    expect(moved.body.path).toBe('/tmp/d/sub/moved.bin');
    const onto = await call('POST', `/v1/sessions/${s.id}/files/rename`, {
      from: '/tmp/d/empty',
      to: '/tmp/d/sub/moved.bin',
    });
    expect(onto.body.error?.code).toBe('FILE_EXISTS');
    const none = await call('POST', `/v1/sessions/${s.id}/files/rename`, {
      from: '/tmp/d/none',
      to: '/tmp/d/x',
    });
    expect(none.body.error?.code).toBe('FILE_NOT_FOUND');
    const under = await call('POST', `/v1/sessions/${s.id}/files/rename`, {
      from: '/tmp/d/empty',
      to: '/tmp/d/sub/moved.bin/x',
    });
    expect(under.body.error?.code).toBe('NOT_A_DIRECTORY');
    await command(s.id, { cmd: 'echo r > /work/rel.txt' });
    const relative = await call<{ path: string }>('POST', `/v1/sessions/${s.id}/files/rename`, {
      from: 'rel.txt',
      to: 'rel2.txt',
    });
    expect(relative.status).toBe(200);
    const stat = await call<{ size: number; type: string }>(
      'GET',
      `/v1/sessions/${s.id}/files/stat?path=/tmp/d/sub/moved.bin`,
    );
    expect(stat.body).toMatchObject({ size: big.length, type: 'file' });
    expect((await call('DELETE', `/v1/sessions/${s.id}/files?path=/tmp/d&recursive=true`)).status).toBe(204);
    const missing = await call('GET', `/v1/sessions/${s.id}/files/stat?path=/tmp/d`);
    expect(missing.body.error?.code).toBe('FILE_NOT_FOUND');
    await call('DELETE', `/v1/sessions/${s.id}`);
  });

  it('snapshots the writable files: restore brings back what was there and drops what came after; fork starts a new session', async () => {
    const s = await create();
    await command(s.id, { cmd: 'echo before > /tmp/kept && mkdir -p /work/d && echo w > /work/d/f' });
    const memory = await call('POST', `/v1/sessions/${s.id}/snapshots`, { kind: 'memory' });
    expect(memory.status).toBe(409);
    expect(memory.body.error?.code).toBe('SNAPSHOT_KIND_UNSUPPORTED');
    const snap = await call<{ id: string; kind: string; sizeBytes: number }>(
      'POST',
      `/v1/sessions/${s.id}/snapshots`,
      {
        name: 'base',
      },
    );
    expect(snap.status).toBe(201);
    expect(snap.body.kind).toBe('filesystem');
    expect(snap.body.sizeBytes).toBeGreaterThan(0);
    await command(s.id, { cmd: 'echo after > /tmp/later; echo changed > /tmp/kept' });

    const restored = await call<Session>('POST', `/v1/sessions/${s.id}/restore`, {
      snapshotId: snap.body.id,
    });
    expect(restored.status).toBe(200);
    expect(restored.body.id).toBe(s.id);
    expect(restored.body.sandboxId).not.toBe(s.sandboxId);
    const look = await command(s.id, { cmd: 'cat /tmp/kept /work/d/f; ls /tmp/later' });
    expect(look.body.stdout).toBe('before\nw\n');
    expect(look.body.exitCode).not.toBe(0);

    const fork = await call<Session>('POST', `/v1/snapshots/${snap.body.id}/fork`, {});
    expect(fork.status).toBe(201);
    expect(fork.body.id).not.toBe(s.id);
    await command(fork.body.id, { cmd: 'echo fork > /tmp/kept' });
    expect((await command(s.id, { cmd: 'cat /tmp/kept' })).body.stdout).toBe('before\n');
    expect((await command(fork.body.id, { cmd: 'cat /tmp/kept' })).body.stdout).toBe('fork\n');

    const list = await call<{ snapshots: Array<{ id: string }> }>('GET', `/v1/sessions/${s.id}/snapshots`);
    expect(list.body.snapshots.map((x) => x.id)).toEqual([snap.body.id]);
    const pause = await call('POST', `/v1/sessions/${s.id}/pause`);
    expect(pause.body.error?.code).toBe('SNAPSHOT_KIND_UNSUPPORTED');
    expect((await call('DELETE', `/v1/snapshots/${snap.body.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/snapshots/${snap.body.id}`)).body.error?.code).toBe('SNAPSHOT_NOT_FOUND');
  });

  it('caps snapshots per session', async () => {
    const s = await create();
    const made: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await call<{ id: string }>('POST', `/v1/sessions/${s.id}/snapshots`, { name: `s${i}` });
      expect(r.status).toBe(201);
      made.push(r.body.id);
    }
    const over = await call('POST', `/v1/sessions/${s.id}/snapshots`, {});
    expect(over.status).toBe(409);
    expect(over.body.error?.code).toBe('SNAPSHOT_LIMIT');
    // Deleting the session removes every snapshot's files (checked in afterAll) and rows.
    expect((await call('DELETE', `/v1/sessions/${s.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/snapshots/${made[0]}`)).body.error?.code).toBe('SNAPSHOT_NOT_FOUND');
  });

  it('reports a session whose sandbox died as dead, and never hangs on it', async () => {
    const s = await create();
    // The sandbox is killed from the host (as the OOM killer or an operator would): its ledger
    // record names its processes.
    const record = server.service.store.ledger.list().find((r) => r.id === s.sandboxId);
    expect(record?.pids.length).toBeGreaterThan(0);
    for (const { pid } of record?.pids ?? []) process.kill(pid, 'SIGKILL');
    let state = '';
    for (let i = 0; i < 100 && state !== 'dead'; i++) {
      state = (await call<Session>('GET', `/v1/sessions/${s.id}`)).body.state;
      if (state !== 'dead') await new Promise((r) => setTimeout(r, 100));
    }
    expect(state).toBe('dead');
    const after = await command(s.id, { cmd: 'true' });
    expect(after.status).toBe(410);
    expect(after.body.error?.code).toBe('SESSION_DEAD');
    expect((await call('DELETE', `/v1/sessions/${s.id}`)).status).toBe(204);
  });
});
