import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient } from '../src/agent/client.js';
import { encodeJson, FrameDecoder } from '../src/agent/framing.js';
import { FrameKind } from '../src/agent/protocol.js';
import { agentBundle, alive, spawnAgent, startAgent, stopAll } from './agent-fixture.js';

afterEach(stopAll);

/** Opens a raw pty and relays its master side to stdio; prints the device path on stderr. */
const PTY_RELAY = `import os, pty, select, sys, tty
master, slave = pty.openpty()
tty.setraw(slave)
sys.stderr.write(os.ttyname(slave) + "\\n"); sys.stderr.flush()
while True:
    r, _, _ = select.select([master, 0], [], [])
    if master in r:
        try: data = os.read(master, 65536)
        except OSError: break
        if not data: break
        os.write(1, data)
    if 0 in r:
        data = os.read(0, 65536)
        if not data: break
        os.write(master, data)
`;

/** Sends raw bytes to a spawned agent and collects the JSON messages it answers. */
function rawAgent() {
  const { child } = spawnAgent();
  const decoder = new FrameDecoder();
  const messages: Array<Record<string, unknown>> = [];
  let waiters: Array<() => void> = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) if (f.kind === FrameKind.Json) messages.push(JSON.parse(f.text));
    for (const w of waiters.splice(0)) w();
  });
  const next = async (pred: (m: Record<string, unknown>) => boolean) => {
    for (;;) {
      const m = messages.find(pred);
      if (m) return m;
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  return { child, send: (b: Buffer) => child.stdin?.write(b), next, reset: () => (waiters = []) };
}

describe('agent protocol robustness (local process)', () => {
  it('answers a host that speaks no known protocol version with AGENT_UNKNOWN_VERSION', async () => {
    const a = rawAgent();
    a.send(encodeJson({ type: 'hello', id: 1, protocolVersions: [99] }));
    const r = await a.next((m) => m.id === 1);
    expect(r).toMatchObject({ ok: false, error: { code: 'AGENT_UNKNOWN_VERSION' } });
  });

  it('refuses an agent that answers hello with an unknown protocol version', async () => {
    // A stand-in for a future agent build (no such build exists to run here).
    const toAgent = new PassThrough();
    const fromAgent = new PassThrough();
    const decoder = new FrameDecoder();
    toAgent.on('data', (chunk: Buffer) => {
      for (const f of decoder.push(chunk)) {
        if (f.kind !== FrameKind.Json) continue;
        const { id } = JSON.parse(f.text) as { id: number };
        const info = { agentVersion: '9.0.0', protocolVersion: 99, capabilities: [], pid: 1, workDir: '/w' };
        fromAgent.write(
          encodeJson({ type: 'result', id, ok: true, value: { ...info, limitMechanism: 'rlimit' } }),
        );
      }
    });
    await expect(AgentClient.connect({ readable: fromAgent, writable: toAgent })).rejects.toMatchObject({
      code: 'AGENT_UNKNOWN_VERSION',
    });
    expect(toAgent.destroyed).toBe(true);
  });

  it('times out a hello that is never answered', async () => {
    const silent = new PassThrough();
    await expect(
      AgentClient.connect({ readable: silent, writable: new PassThrough(), helloTimeoutMs: 200 }),
    ).rejects.toMatchObject({ code: 'AGENT_TIMEOUT' });
  });

  it('survives garbage JSON, unknown types and bad requests, and still answers', async () => {
    const a = rawAgent();
    a.send(encodeJson({ type: 'hello', id: 1, protocolVersions: [1] }));
    await a.next((m) => m.id === 1);
    const notJson = Buffer.from([0, 0, 0, 4, FrameKind.Json, 0x7b, 0x7b, 0x7b]);
    a.send(notJson);
    await a.next((m) => m.type === 'log');
    a.send(encodeJson({ type: 'launch-missiles', id: 2 }));
    expect(await a.next((m) => m.id === 2)).toMatchObject({ ok: false, error: { code: 'AGENT_PROTOCOL' } });
    a.send(encodeJson({ type: 'exec', id: 3, argv: 'not-an-array' }));
    expect(await a.next((m) => m.id === 3)).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    a.send(encodeJson({ type: 'file-read', id: 4, path: 42 }));
    expect(await a.next((m) => m.id === 4)).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    a.send(encodeJson({ type: 'signal', id: 5, channel: 3, signal: 'SIGNOPE' }));
    expect(await a.next((m) => m.id === 5)).toMatchObject({ ok: true });
    a.send(encodeJson({ type: 'ping', id: 6 }));
    expect(await a.next((m) => m.id === 6)).toMatchObject({ ok: true });
  });

  it('refuses bad limits and requests too large for a frame, and keeps serving', async () => {
    const { client } = await startAgent();
    const bad = { argv: ['true'], limits: { timeoutMs: 'soon' } } as unknown as Parameters<
      typeof client.run
    >[0];
    await expect(client.run(bad)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(client.run({ argv: ['true'], limits: { memoryMb: -1 } })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    const huge = { BIG: 'x'.repeat(5 * 1024 * 1024) };
    await expect(client.run({ argv: ['true'], env: huge })).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
    });
    expect((await client.run({ argv: ['true'] })).exitCode).toBe(0);
  });

  it('speaks over a unix socket with --socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-agent-sock-'));
    const server = createServer();
    const path = join(dir, 'agent.sock');
    await new Promise<void>((r) => server.listen(path, r));
    try {
      const accepted = new Promise<Socket>((r) => server.once('connection', r));
      const { child } = spawnAgent(['--socket', path]);
      const sock = await accepted;
      const client = await AgentClient.connect({ readable: sock, writable: sock });
      expect((await client.run({ shell: 'echo via socket' })).stdout.toString()).toBe('via socket\n');
      const exited = new Promise((r) => child.on('exit', r));
      await client.close();
      await exited;
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('speaks over a character device with --port (a raw pty standing in for virtio-serial)', async () => {
    const relay = spawn('python3', ['-c', PTY_RELAY], { stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      const ptyPath = await new Promise<string>((resolve) =>
        relay.stderr.once('data', (c: Buffer) => resolve(c.toString().trim())),
      );
      const { child } = spawnAgent(['--port', ptyPath]);
      const client = await AgentClient.connect({ readable: relay.stdout, writable: relay.stdin });
      expect((await client.run({ shell: 'echo via port' })).stdout.toString()).toBe('via port\n');
      expect(await client.ping()).toBeGreaterThan(0);
      const exited = new Promise((r) => child.on('exit', r));
      await client.shutdown();
      await exited;
    } finally {
      relay.kill('SIGKILL');
    }
  });

  it('on undecodable framing writes one error log frame and exits non-zero', async () => {
    const a = rawAgent();
    const exited = new Promise<number | null>((r) => a.child.on('exit', (code) => r(code)));
    a.send(Buffer.from([0, 0, 0, 1, 0x42]));
    expect(await a.next((m) => m.type === 'log')).toMatchObject({ level: 'error' });
    expect(await exited).not.toBe(0);
  });

  it('rejects pending calls and unfinished execs with SANDBOX_LOST when the agent dies', async () => {
    const { client, child } = await startAgent();
    const lost = new Promise<Error | undefined>((r) => client.onClose(r));
    const h = client.exec({ argv: ['sleep', '60'] });
    const { pid } = await h.started;
    const pending = client.readFile('nope-never-answered').catch((e: unknown) => e);
    child.kill('SIGKILL');
    await expect(h.exit).rejects.toMatchObject({ code: 'SANDBOX_LOST' });
    expect(await lost).toMatchObject({ code: 'SANDBOX_LOST' });
    const err = await pending;
    // The read may have been answered (the file is not there) before the kill landed; if not, it was lost.
    if (err instanceof Error)
      expect(['SANDBOX_LOST', 'FILE_NOT_FOUND']).toContain((err as { code?: string }).code);
    expect(client.closed).toBe(true);
    await expect(client.ping()).rejects.toMatchObject({ code: 'SANDBOX_LOST' });
    await expect(client.exec({ argv: ['true'] }).exit).rejects.toMatchObject({ code: 'SANDBOX_LOST' });
    // The shim saw its parent die and took its tree down.
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(pid)).toBe(false);
  });

  it('close() is idempotent, rejects what is pending, and the agent then exits', async () => {
    const { client, child } = await startAgent();
    const h = client.exec({ argv: ['sleep', '60'] });
    await h.started;
    const exited = new Promise((r) => child.on('exit', r));
    await Promise.all([client.close(), client.close()]);
    await expect(h.exit).rejects.toMatchObject({ code: 'SANDBOX_LOST' });
    await exited;
  });

  it('shutdown ends the agent cleanly; snapshot hooks answer', async () => {
    const { client, child } = await startAgent();
    await client.prepareSnapshot();
    const { randomBytes } = await import('node:crypto');
    await client.afterRestore({ sandboxId: 'sbx-test-1', nowMs: Date.now(), entropy: randomBytes(32) });
    const r = await client.run({ shell: 'echo $HEARTH_SANDBOX_ID' });
    expect(r.stdout.toString()).toBe('sbx-test-1\n');
    await expect(
      client.afterRestore({ sandboxId: '', nowMs: Date.now(), entropy: randomBytes(8) }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    await client.shutdown();
    expect(await exited).toBe(0);
  });
});

describe('hearth-exec shim', () => {
  it('on SIGTERM kills its tree, reaps, reports and exits by itself', async () => {
    const { shim } = agentBundle();
    const child = spawn(shim, ['--report-fd', '3', '--', 'sh', '-c', 'sleep 60 & sleep 60'], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    let report = '';
    child.stdio[3]?.on('data', (c: Buffer) => {
      report += c.toString();
    });
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGTERM');
    const [code, signal] = await new Promise<[number | null, string | null]>((r) =>
      child.on('close', (c, s) => r([c, s])),
    );
    expect(signal).toBeNull();
    expect(code).toBe(128 + 9);
    const lines = report.trim().split('\n');
    expect(JSON.parse(lines[0] ?? '')).toHaveProperty('pid');
    expect(JSON.parse(lines[1] ?? '')).toMatchObject({
      exitCode: null,
      signal: 'SIGKILL',
      asLimitHit: false,
    });
  });

  it('refuses bad options with status 125', async () => {
    const { shim } = agentBundle();
    for (const args of [['--as-mb', 'lots', '--', 'true'], ['--bogus'], ['--cpu-ms', '5']]) {
      const code = await new Promise((r) => spawn(shim, args, { stdio: 'ignore' }).on('exit', r));
      expect(code).toBe(125);
    }
  });
});
