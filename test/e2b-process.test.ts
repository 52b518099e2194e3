import { CommandExitError, type CommandHandle, Sandbox, TimeoutError } from 'e2b';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  });

  it('throws CommandExitError with the exit code and stderr for a non-zero exit', async () => {
    const err = await sbx.commands.run('echo broken >&2; exit 3').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandExitError);
    const e = err as CommandExitError;
    expect(e.exitCode).toBe(3);
    expect(e.stderr).toBe('broken\n');
    expect(e.error).toBe('exit status 3');
  });
});
