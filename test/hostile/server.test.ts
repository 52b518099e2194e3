import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { hearthPaths } from '../../src/config/paths.js';
import type { Job } from '../../src/jobs/types.js';
import { isLoopback } from '../../src/server/browser-guard.js';
import { startServer } from '../../src/server/start.js';
import { settledLeftovers } from '../leak-check.js';
import { startServe } from '../serve-fixture.js';

// A real `hearth serve` child process on port 0 (so its memory is its own) with real bwrap sandboxes.
let child: ChildProcess;
let url: string;
let port: number;
let dir: string;

const rssMb = (pid: number): number => {
  let status = '';
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {}
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
};

/** Samples the server's RSS until stopped; resolves with the peak. */
function watchRss(pid: number): { stop(): number } {
  let peak = rssMb(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMb(pid));
  }, 25);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssMb(pid));
    },
  };
}

/** What the API answers: a job, an accepted id, or an error. */
interface Answer {
  status: number;
  body: Job & { id: string; error?: { code: string; message: string } | null };
}

async function post(path: string, body: unknown): Promise<Answer> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

const run = async (body: unknown) => post('/v1/jobs?wait=true', body);

/** A raw request, so Host and Origin are exactly what a browser (or an attacker) would send. */
function raw(path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A WebSocket client by hand, so a flood is as fast as the kernel allows (masked with key 0). */
async function rawWebSocket(path: string): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  await once(s, 'connect');
  s.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const [head] = (await once(s, 'data')) as [Buffer];
  expect(head.toString('latin1')).toMatch(/^HTTP\/1\.1 101/);
  s.on('data', () => {});
  return s;
}

function wsTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const head = Buffer.alloc(14);
  head[0] = 0x81;
  head[1] = 0x80 | 127;
  head.writeBigUInt64BE(BigInt(payload.length), 2);
  return Buffer.concat([head, payload]);
}

async function waitJob(id: string): Promise<Job> {
  for (;;) {
    const job = (await (await fetch(`${url}/v1/jobs/${id}`)).json()) as Job;
    if (['completed', 'error', 'cancelled'].includes(job.status)) return job;
    await sleep(100);
  }
}

async function healthy(): Promise<void> {
  const res = await fetch(`${url}/health`);
  expect(res.status).toBe(200);
}

describe('hostile input to the server (bwrap)', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-hostile-server-'));
    ({ child, url } = await startServe({
      HEARTH_BACKEND: 'bwrap',
      HEARTH_DB: join(dir, 'hearth.db'),
      HEARTH_SHUTDOWN_GRACE_MS: '0',
    }));
    port = Number(new URL(url).port);
    // Warm: modules loaded, the first sandbox run, so RSS growth measures the attacks only.
    expect((await run({ language: 'python', code: 'print(1)' })).body.result?.stdout).toBe('1\n');
  });

  afterAll(async () => {
    const pid = child.pid as number;
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
    expect(await settledLeftovers({ ownerPids: [pid] })).toEqual([]);
  });

  it('a TypeScript bomb (300,000 nested parentheses) fails its job as a compile error; the next TypeScript job runs', async () => {
    const n = 300_000;
    const bomb = await run({ language: 'typescript', code: `let x = ${'('.repeat(n)}1${')'.repeat(n)};` });
    expect(bomb.status).toBe(200);
    expect(bomb.body.status).toBe('completed');
    expect(bomb.body.result).toMatchObject({ stage: 'compile', exitCode: 1 });
    expect(bomb.body.result?.stderr).toMatch(/main\.ts: the source is too complex/);
    const hello = await run({
      language: 'typescript',
      code: 'const who: string = "World";\nconsole.log("Hello, " + who + "!");',
    });
    expect(hello.body.result).toMatchObject({ stage: 'run', exitCode: 0, stdout: 'Hello, World!\n' });
  });

  it('40 SSE listeners that never read keep the server bounded; the job completes', async () => {
    const { body } = await post('/v1/jobs', {
      language: 'python',
      // 32 MiB of output, kept up to an 8 MiB cap, after the listeners are in.
      code: 'import sys, time\ntime.sleep(1)\nb = "x" * 65535 + "\\n"\nfor _ in range(512): sys.stdout.write(b)',
      limits: { maxOutputBytes: 8 * 1024 * 1024 },
    });
    const rss = watchRss(child.pid as number);
    const before = rssMb(child.pid as number);
    const sockets: Socket[] = [];
    for (let i = 0; i < 40; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      s.write(`GET /v1/jobs/${body.id}/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      s.pause();
      sockets.push(s);
    }
    const job = await waitJob(body.id);
    await sleep(1000);
    const peak = rss.stop();
    for (const s of sockets) s.destroy();
    expect(job.status).toBe('completed');
    expect(job.result?.truncated).toBe(true);
    expect(job.result?.stdout.length).toBe(8 * 1024 * 1024);
    // Unbounded, each listener held its own copy of the output and the result: over 1 GB.
    expect(peak - before).toBeLessThan(200);
    await healthy();
  });

  it('a WebSocket stdin flood is flow-controlled: the server stops reading, its memory stays bounded', async () => {
    const ws = await rawWebSocket('/v1/jobs/interactive');
    // A program that never reads its stdin, then as much stdin as the server takes, as fast as it can.
    ws.write(
      wsTextFrame(JSON.stringify({ type: 'init', language: 'python', code: 'import time\ntime.sleep(60)' })),
    );
    const rss = watchRss(child.pid as number);
    const before = rssMb(child.pid as number);
    const frame = wsTextFrame(JSON.stringify({ type: 'stdin', data: 'y'.repeat(1024 * 1024) }));
    const deadline = Date.now() + 8000;
    let offered = 0;
    while (offered < 512 * frame.length && Date.now() < deadline) {
      offered += frame.length;
      if (!ws.write(frame))
        await Promise.race([once(ws, 'drain'), sleep(Math.max(0, deadline - Date.now()))]);
    }
    const taken = ws.bytesWritten - ws.writableLength;
    await sleep(500);
    const peak = rss.stop();
    ws.destroy();
    // Unbounded, the server took the whole flood into its buffers (557 MB for 512 MiB).
    expect(peak - before).toBeLessThan(128);
    // It stopped reading after a window: most of the 512 MiB never left the client.
    expect(taken).toBeLessThan(128 * 1024 * 1024);
    await healthy();
  });

  it('stdin larger than the window reaches a program that reads it, whole and in order', async () => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/jobs/interactive`);
    const msgs: Array<{ type: string; stdout?: string; exitCode?: number }> = [];
    ws.on('message', (m) => msgs.push(JSON.parse(String(m))));
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    await new Promise((r) => ws.once('open', r));
    ws.send(
      JSON.stringify({
        type: 'init',
        language: 'python',
        code: 'import sys, hashlib\nd = sys.stdin.buffer.read()\nprint(len(d), hashlib.sha256(d).hexdigest())',
      }),
    );
    const hash = createHash('sha256');
    for (let i = 0; i < 24; i++) {
      const data = `${String(i).padStart(4, '0')}${'z'.repeat(512 * 1024 - 4)}`;
      hash.update(data);
      ws.send(JSON.stringify({ type: 'stdin', data }));
    }
    ws.send(JSON.stringify({ type: 'close-stdin' }));
    expect(await closed).toBe(1000);
    expect(msgs.at(-1)).toMatchObject({
      type: 'exit',
      exitCode: 0,
      stdout: `${24 * 512 * 1024} ${hash.digest('hex')}\n`,
    });
  });

  it('a WebSocket message over the size limit closes with 1009; the server stays up', async () => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/jobs/interactive`);
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    ws.on('error', () => {});
    await new Promise((r) => ws.once('open', r));
    // The limit is 2 × HEARTH_MAX_CODE_BYTES (1 MiB) + 1 MiB: one job request.
    ws.send(JSON.stringify({ type: 'init', language: 'python', code: 'x'.repeat(4 * 1024 * 1024) }));
    // 1009 when the client reads the close frame before the server drops the connection; 1006 when
    // the drop reaches it first, while it is still sending the rest of the oversized message.
    expect([1009, 1006]).toContain(await closed);
    await healthy();
  });

  it('a WebSocket init that fails the schema (NUL in args) gets an error and close 1008', async () => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/jobs/interactive`);
    const msgs: Array<{ type: string; code?: string }> = [];
    ws.on('message', (m) => msgs.push(JSON.parse(String(m))));
    const closed = new Promise<[number, string]>((r) => ws.on('close', (c, why) => r([c, String(why)])));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'init', language: 'python', code: 'print(1)', args: ['a\0b'] }));
    expect(await closed).toEqual([1008, 'VALIDATION_FAILED']);
    expect(msgs).toEqual([expect.objectContaining({ type: 'error', code: 'VALIDATION_FAILED' })]);
  });

  it('refuses a WebSocket from a foreign Origin and requests with a foreign Host; loopback Hosts work', async () => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/jobs/interactive`, {
      origin: 'http://evil.example',
    });
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => {});
    });
    ws.terminate();
    expect(status).toBe(403);
    const rebound = await raw('/v1/jobs?limit=1', { host: `evil.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(rebound.body.error?.code).toBe('FORBIDDEN_HOST');
    const crossOrigin = await raw('/v1/jobs?limit=1', {
      host: `127.0.0.1:${port}`,
      origin: 'https://evil.example',
    });
    expect(crossOrigin.body.error?.code).toBe('FORBIDDEN_ORIGIN');
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      expect((await raw('/v1/jobs?limit=1', { host })).status, host).toBe(200);
    }
    const sameOrigin = await raw('/health', {
      host: `127.0.0.1:${port}`,
      origin: `http://127.0.0.1:${port}`,
    });
    expect(sameOrigin.status).toBe(200);
  });

  it('a batch with one malformed item is a 400 naming its index; NUL in args or env is a 400', async () => {
    const batch = await post('/v1/jobs/batch', {
      jobs: [
        { language: 'python', code: 'print(1)' },
        { language: 'python', code: 'print(2)', args: [1] },
      ],
    });
    expect(batch.status).toBe(400);
    expect(batch.body.error?.code).toBe('VALIDATION_FAILED');
    expect(batch.body.error?.message).toMatch(/^jobs\[1\]/);
    for (const body of [
      { language: 'python', code: 'print(1)', args: ['a\0b'] },
      { language: 'python', code: 'print(1)', env: { A: 'x\0y' } },
      { language: 'python', code: 'print(1)', env: { 'A\0B': 'x' } },
      { language: 'python', files: [{ name: 'a\0.py', content: 'print(1)' }] },
    ]) {
      const res = await post('/v1/jobs', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error?.code).toBe('VALIDATION_FAILED');
    }
    const nulBatch = await post('/v1/jobs/batch', {
      jobs: [{ language: 'python', code: 'x', env: { A: '\0' } }],
    });
    expect(nulBatch.status).toBe(400);
  });
});

describe('the loopback check of --host and HEARTH_HOST', () => {
  it('parses addresses: 127.0.0.0/8, ::1 and localhost are loopback, names that start like them are not', () => {
    for (const h of [
      '127.0.0.1',
      '127.255.255.254',
      '::1',
      '0:0:0:0:0:0:0:1',
      '::ffff:127.0.0.1',
      'localhost',
      'LOCALHOST',
    ])
      expect(isLoopback(h), h).toBe(true);
    for (const h of [
      '127.evil.com',
      '127.0.0.1.evil.com',
      'localhost.evil.com',
      '0.0.0.0',
      '::',
      '128.0.0.1',
      '10.0.0.1',
    ])
      expect(isLoopback(h), h).toBe(false);
  });

  it('refuses 127.evil.com without tokens; accepts 127.0.0.2 and ::1', async () => {
    const paths = { db: join(tmpdir(), `hearth-loopback-${process.pid}.db`) };
    await expect(
      startServer({ host: '127.evil.com', port: 0, tokens: [], logger: false }),
    ).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
    });
    await expect(startServe({ HEARTH_HOST: '127.0.0.1.evil.com' })).rejects.toThrow(/without HEARTH_TOKENS/);
    for (const host of ['127.0.0.2', '::1']) {
      const server = await startServer({
        host,
        port: 0,
        tokens: [],
        logger: false,
        shutdownGraceMs: 0,
        paths: { ...hearthPaths(), ...paths },
      });
      try {
        expect((await fetch(`${server.url}/health`)).status).toBe(200);
      } finally {
        await server.close();
      }
    }
    rmSync(paths.db, { force: true });
    rmSync(`${paths.db}-wal`, { force: true });
    rmSync(`${paths.db}-shm`, { force: true });
  });
});
