import { CommandExitError, InvalidArgumentError, NotFoundError, Sandbox, TimeoutError } from 'e2b';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sessionsConfig } from '../src/sessions/config.js';
import { startE2bServer } from './e2b-fixture.js';
import { settledLeftovers } from './leak-check.js';

// envd's Process service, driven by the published `e2b` SDK (unmodified, configured only by the
// fixture's three variables) against a real server on port 0 with real bwrap sandboxes; raw fetch
// for what the SDK cannot send.
let e2b: Awaited<ReturnType<typeof startE2bServer>>;
let sbx: Sandbox;

/** One envelope of the Connect streaming protocol: a flag byte, a big-endian length, the JSON. */
function envelope(json: string, flag = 0): Buffer {
  const body = Buffer.from(json);
  const head = Buffer.alloc(5);
  head.writeUInt8(flag, 0);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** The messages of a Connect streaming response body. */
function envelopes(body: Buffer): { flag: number; json: unknown }[] {
  const out: { flag: number; json: unknown }[] = [];
  for (let at = 0; at + 5 <= body.length; ) {
    const len = body.readUInt32BE(at + 1);
    out.push({ flag: body[at] ?? -1, json: JSON.parse(body.subarray(at + 5, at + 5 + len).toString()) });
    at += 5 + len;
  }
  return out;
}

function rpc(
  method: string,
  body: string | Buffer,
  o: { stream?: boolean; token?: string; sandboxId?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  return fetch(`${e2b.server.url}/process.Process/${method}`, {
    method: 'POST',
    headers: {
      'content-type': o.stream ? 'application/connect+json' : 'application/json',
      'connect-protocol-version': '1',
      'e2b-sandbox-id': o.sandboxId ?? sbx.sandboxId,
      'e2b-sandbox-port': '49983',
      'x-access-token': o.token ?? (sbx as unknown as { envdAccessToken: string }).envdAccessToken,
      ...o.headers,
    },
    body,
  });
}

describe('E2B envd Process service', () => {
  beforeAll(async () => {
    e2b = await startE2bServer();
    sbx = await Sandbox.create({ envs: { FROM_SANDBOX: 'sandbox', SHADOWED: 'sandbox' } });
  });
  afterAll(async () => {
    await sbx?.kill().catch(() => {});
    await e2b?.close();
    expect(await settledLeftovers()).toEqual([]);
  });

  it('runs a command, streaming its output to the callbacks piece by piece', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const r = await sbx.commands.run('for i in 1 2 3; do echo out$i; echo err$i >&2; sleep 0.2; done', {
      onStdout: (d) => void out.push(d),
      onStderr: (d) => void err.push(d),
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('out1\nout2\nout3\n');
    expect(r.stderr).toBe('err1\nerr2\nerr3\n');
    expect(out.join('')).toBe(r.stdout);
    expect(err.join('')).toBe(r.stderr);
    // The sleeps split the output: it came as it was written, not as one piece at the end.
    expect(out.length).toBeGreaterThan(1);
    expect(err.length).toBeGreaterThan(1);
  });

  it('gives the sandbox envs, then the command envs on top, and runs in the cwd asked for', async () => {
    const r = await sbx.commands.run('echo "$FROM_SANDBOX $SHADOWED $FROM_CMD"; pwd', {
      envs: { SHADOWED: 'command', FROM_CMD: 'cmd' },
      cwd: '/tmp',
    });
    expect(r.stdout).toBe('sandbox command cmd\n/tmp\n');
    // Without a cwd a command runs in the user's home, as E2B's do.
    const home = await sbx.commands.run('pwd; whoami; echo $HOME');
    expect(home.stdout).toBe('/home/user\nuser\n/home/user\n');
  });

  it('throws CommandExitError with the exit code and stderr for a non-zero exit', async () => {
    const err = await sbx.commands.run('echo broken >&2; exit 3').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandExitError);
    const e = err as CommandExitError;
    expect(e.exitCode).toBe(3);
    expect(e.stderr).toBe('broken\n');
    expect(e.error).toBe('exit status 3');
  });

  it('writes stdin to a background command and closes it; without stdin it reads nothing', async () => {
    const h = await sbx.commands.run('cat', { background: true, stdin: true });
    await h.sendStdin('hello ');
    await sbx.commands.sendStdin(h.pid, new TextEncoder().encode('world\n'));
    await h.closeStdin();
    const r = await h.wait();
    expect(r.stdout).toBe('hello world\n');
    // stdin: false (the default) is /dev/null: cat reads nothing, and stdin cannot be written.
    expect((await sbx.commands.run('cat; echo end')).stdout).toBe('end\n');
    const closed = await sbx.commands.run('sleep 30', { background: true });
    await expect(sbx.commands.sendStdin(closed.pid, 'x')).rejects.toThrow(InvalidArgumentError);
    expect(await closed.kill()).toBe(true);
  });

  it("ends a command at its timeout with the SDK's TimeoutError, and the process is gone", async () => {
    const err = await sbx.commands
      .run('echo started; sleep 30', { timeoutMs: 1500 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    // The client gives up at the same deadline, so the server's kill may land just after.
    await vi.waitFor(
      async () => {
        const listed = await sbx.commands.list();
        expect(listed.filter((p) => p.args.includes('echo started; sleep 30'))).toEqual([]);
      },
      { timeout: 10_000, interval: 100 },
    );
  });

  it('lists a background command with its config, kills it, and reports the kill in wait()', async () => {
    const h = await sbx.commands.run('sleep 60', { background: true, envs: { LISTED: 'yes' }, cwd: '/tmp' });
    const listed = await sbx.commands.list();
    expect(listed.find((p) => p.pid === h.pid)).toEqual({
      pid: h.pid,
      cmd: '/bin/bash',
      args: ['-l', '-c', 'sleep 60'],
      envs: { LISTED: 'yes' },
      cwd: '/tmp',
    });
    expect(await h.kill()).toBe(true);
    const err = (await h.wait().catch((e: unknown) => e)) as CommandExitError;
    expect(err).toBeInstanceOf(CommandExitError);
    expect(err.exitCode).toBe(-1);
    expect(err.error).toBe('signal: killed');
    expect((await sbx.commands.list()).map((p) => p.pid)).not.toContain(h.pid);
    // A pid that has exited, or never was, is not there to kill.
    expect(await sbx.commands.kill(h.pid)).toBe(false);
    expect(await sbx.commands.kill(987_654)).toBe(false);
  });

  it('sends SIGTERM when asked, and refuses a signal envd does not know', async () => {
    const h = await sbx.commands.run('sleep 30', { background: true });
    const term = await rpc(
      'SendSignal',
      JSON.stringify({ process: { pid: h.pid }, signal: 'SIGNAL_SIGTERM' }),
    );
    expect(term.status).toBe(200);
    expect(await term.json()).toEqual({});
    const err = (await h.wait().catch((e: unknown) => e)) as CommandExitError;
    expect(err).toBeInstanceOf(CommandExitError);
    expect(err.exitCode).toBe(-1);
    expect(err.error).toBe('signal: terminated');
    const unknown = await rpc(
      'SendSignal',
      JSON.stringify({ process: { pid: h.pid }, signal: 'SIGNAL_UNSPECIFIED' }),
    );
    expect(await unknown.json()).toMatchObject({ code: 'invalid_argument' });
  });

  it('keeps a process running when its stream goes, and connects to it again by pid', async () => {
    const h = await sbx.commands.run('sleep 1; echo after; sleep 0.3; echo done', { background: true });
    await h.disconnect();
    const heard: string[] = [];
    const again = await sbx.commands.connect(h.pid, { onStdout: (d) => void heard.push(d) });
    expect(again.pid).toBe(h.pid);
    const r = await again.wait();
    expect(r.exitCode).toBe(0);
    // The output came after the first stream had gone: the process outlived it.
    expect(r.stdout).toContain('done\n');
    expect(heard.join('')).toBe(r.stdout);
    await expect(sbx.commands.connect(987_654)).rejects.toThrow(/no process with pid 987654/);
  });

  it('ends an open stream when its sandbox is killed', async () => {
    const other = await Sandbox.create();
    const h = await other.commands.run('sleep 120', { background: true });
    expect(await other.kill()).toBe(true);
    const err = await h.wait().catch((e: unknown) => e);
    // `unavailable`, which the SDK reports as a sandbox timeout.
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/\[unavailable\]/);
  });

  it('answers malformed calls with Connect errors, never internal', async () => {
    const list = async (body: string) => {
      const res = await rpc('List', body);
      return { status: res.status, body: (await res.json()) as { code: string } };
    };
    expect(await list('{"bad')).toMatchObject({ status: 400, body: { code: 'invalid_argument' } });
    expect(await list('[1,2]')).toMatchObject({ status: 400, body: { code: 'invalid_argument' } });
    const signal = await rpc('SendSignal', '{"process":{"pid":"abc"},"signal":true}');
    expect(signal.status).toBe(400);
    expect(await signal.json()).toMatchObject({ code: 'invalid_argument' });
    const noSelector = await rpc('SendSignal', '{"signal":"SIGNAL_SIGKILL"}');
    expect(await noSelector.json()).toMatchObject({ code: 'invalid_argument' });
    const update = await rpc('Update', '{"process":{"pid":1}}');
    expect(await update.json()).toMatchObject({
      code: 'unimplemented',
      message: expect.stringMatching(/PTY/),
    });

    const start = async (json: string | Buffer) => {
      const res = await rpc('Start', typeof json === 'string' ? envelope(json) : json, { stream: true });
      expect(res.status).toBe(200);
      const frames = envelopes(Buffer.from(await res.arrayBuffer()));
      const last = frames.at(-1);
      expect(last?.flag).toBe(2);
      return (last?.json as { error?: { code: string; message: string } } | undefined)?.error;
    };
    expect(await start('{"process":{"cmd":""}}')).toMatchObject({ code: 'invalid_argument' });
    expect(await start(JSON.stringify({ process: { cmd: '/bin/echo', args: ['a\0b'] } }))).toMatchObject({
      code: 'invalid_argument',
    });
    expect(await start('{"process":{"cmd":"/bin/echo","args":7}}')).toMatchObject({
      code: 'invalid_argument',
    });
    expect(await start('{"process":{"cmd":"/bin/bash"},"pty":{"size":{"cols":80,"rows":24}}}')).toMatchObject(
      {
        code: 'unimplemented',
      },
    );
    // An envelope that promises more bytes than it carries.
    const broken = Buffer.concat([
      envelope('{"process":{"cmd":"/bin/true"}}').subarray(0, 5),
      Buffer.from('{"pro'),
    ]);
    expect(await start(broken)).toMatchObject({ code: 'invalid_argument' });
    expect(await start('not an envelope')).toMatchObject({ code: 'invalid_argument' });
  });

  it('streams the bytes a program writes; a program or cwd that is not there is an error', async () => {
    const res = await rpc(
      'Start',
      envelope(JSON.stringify({ process: { cmd: '/usr/bin/printf', args: ['\\377\\376ok'] } })),
      {
        stream: true,
      },
    );
    const frames = envelopes(Buffer.from(await res.arrayBuffer()));
    const events = frames.map((f) => (f.json as { event?: Record<string, unknown> }).event);
    expect(Object.keys(events[0] ?? {})).toEqual(['start']);
    const data = events.flatMap((e) => (e?.data ? [(e.data as { stdout: string }).stdout] : []));
    expect(Buffer.concat(data.map((d) => Buffer.from(d, 'base64')))).toEqual(
      Buffer.from([0xff, 0xfe, 0x6f, 0x6b]),
    );
    expect(events.at(-2)).toEqual({ end: { exited: true, status: 'exit status 0' } });
    expect(frames.at(-1)).toEqual({ flag: 2, json: {} });

    // hearth's exec shim reports a program it cannot run as exit 127, as a shell would.
    const missing = await rpc('Start', envelope('{"process":{"cmd":"/no/such/program"}}'), { stream: true });
    const ended = envelopes(Buffer.from(await missing.arrayBuffer())).map((f) => f.json);
    expect(ended.at(-2)).toEqual({
      event: { end: { exitCode: 127, exited: true, status: 'exit status 127', error: 'exit status 127' } },
    });
    // A working directory that does not exist is the call's error: no process started.
    const err = await sbx.commands.run('pwd', { cwd: '/no/such/dir' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toMatch(/\/no\/such\/dir/);
    expect((await sbx.commands.list()).filter((p) => p.cwd === '/no/such/dir')).toEqual([]);
  });

  it('sends keepalives on an idle stream when asked, and refuses a deadline past the maximum', async () => {
    const res = await rpc('Start', envelope('{"process":{"cmd":"/bin/sleep","args":["2.5"]}}'), {
      stream: true,
      headers: { 'keepalive-ping-interval': '1', 'connect-timeout-ms': '30000' },
    });
    const events = envelopes(Buffer.from(await res.arrayBuffer())).map((f) => f.json);
    expect(events[0]).toMatchObject({ event: { start: {} } });
    expect(events).toContainEqual({ event: { keepalive: {} } });
    expect(events.at(-2)).toEqual({ event: { end: { exited: true, status: 'exit status 0' } } });
    const tooLong = await rpc('Start', envelope('{"process":{"cmd":"/bin/true"}}'), {
      stream: true,
      // Past the session's longest command timeout (HEARTH_SESSION_MAX_TIMEOUT_MS, 1 hour by default).
      headers: { 'connect-timeout-ms': String(sessionsConfig().maxTimeoutMs + 60_000) },
    });
    const last = envelopes(Buffer.from(await tooLong.arrayBuffer())).at(-1)?.json;
    expect(last).toMatchObject({
      error: { code: 'invalid_argument', message: expect.stringMatching(/maximum/) },
    });
  });

  it('refuses a wrong access token and a call that names no sandbox', async () => {
    const wrong = await rpc('List', '{}', { token: 'not-the-token' });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ code: 'unauthenticated' });
    const res = await fetch(`${e2b.server.url}/process.Process/List`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(await res.json()).toMatchObject({ code: 'unavailable' });
  });
});
