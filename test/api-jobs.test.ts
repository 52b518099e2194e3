import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { hearthPaths } from '../src/config/paths.js';
import type { Job } from '../src/jobs/types.js';
import { Hearth } from '../src/sdk/client.js';
import { type RunningServer, startServer } from '../src/server/start.js';
import { settledLeftovers } from './leak-check.js';

// Real server on port 0, real SQLite in a temp dir, real bwrap sandboxes with the built images.
let server: RunningServer;
let dir: string;
let sdk: Hearth;

const submit = async (body: unknown, wait = true) => {
  const res = await fetch(`${server.url}/v1/jobs${wait ? '?wait=true' : ''}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Job & { error?: { code: string } } };
};

describe('API with real bwrap sandboxes', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-jobs-'));
    process.env.HEARTH_BACKEND = 'bwrap';
    server = await startServer({
      port: 0,
      paths: { ...hearthPaths(), db: join(dir, 'hearth.db') },
      logger: false,
      shutdownGraceMs: 0,
    });
    sdk = new Hearth({ baseUrl: server.url });
  });
  afterAll(async () => {
    await server?.close();
    await server?.close();
    delete process.env.HEARTH_BACKEND;
    rmSync(dir, { recursive: true, force: true });
    // Cancelled, timed-out, interactive and batch jobs and the language probe freed everything.
    expect(await settledLeftovers()).toEqual([]);
  });

  it('runs python with ?wait=true, with stdin, args and env', async () => {
    const { status, body } = await submit({
      language: 'py',
      code: 'import os, sys\nprint(sys.stdin.read().strip(), sys.argv[1:], os.environ["GREETING"])\nsys.exit(4)',
      stdin: 'hello',
      args: ['a', 'b c'],
      env: { GREETING: 'hi' },
    });
    expect(status).toBe(200);
    expect(body.status).toBe('completed');
    expect(body.language).toBe('python');
    expect(body.backend).toBe('bwrap');
    expect(body.result).toMatchObject({
      exitCode: 4,
      stdout: "hello ['a', 'b c'] hi\n",
      stage: 'run',
      timedOut: false,
    });
    expect(body.result?.timing.totalMs).toBeGreaterThanOrEqual(body.result?.timing.runMs ?? 0);
    const again = await sdk.jobs.get(body.id);
    expect(again.result?.stdout).toBe(body.result?.stdout);
  });

  it('keeps binary output byte-exact in base64', async () => {
    const { body } = await submit({
      language: 'python',
      code: 'import sys; sys.stdout.buffer.write(bytes(range(256)))',
    });
    expect(body.result?.stdoutBase64).toBeDefined();
    expect(Buffer.from(body.result?.stdoutBase64 ?? '', 'base64')).toEqual(
      Buffer.from([...Array(256).keys()]),
    );
  });

  it('reports a timeout with the output produced before it', async () => {
    const { body } = await submit({
      language: 'python',
      code: 'import time\nprint("before", flush=True)\ntime.sleep(30)',
      limits: { timeoutMs: 500 },
    });
    expect(body.status).toBe('completed');
    expect(body.result).toMatchObject({ timedOut: true, stdout: 'before\n' });
  });

  it('skips the run when compilation fails (C syntax error)', async () => {
    const { body } = await submit({ language: 'c', code: 'int main(void) { return 0 }\n' });
    expect(body.status).toBe('completed');
    expect(body.result?.stage).toBe('compile');
    expect(body.result?.compile?.exitCode).not.toBe(0);
    expect(body.result?.compile?.stderr).toMatch(/error/);
    const ok = await submit({
      language: 'c',
      code: '#include <stdio.h>\nint main(void) { puts("compiled"); return 0; }\n',
    });
    expect(ok.body.result).toMatchObject({ stage: 'run', exitCode: 0, stdout: 'compiled\n' });
    expect(ok.body.result?.compile?.exitCode).toBe(0);
  });

  it('keeps the classic interface: POST /run → 202 {id}, GET /status/:id', async () => {
    const res = await fetch(`${server.url}/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ language: 'python', code: 'print("classic")' }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    let s: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) {
      s = (await (await fetch(`${server.url}/status/${id}`)).json()) as Record<string, unknown>;
      if (s.status === 'done' || s.status === 'error') break;
      expect(['pending', 'running']).toContain(s.status);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(s).toEqual({ id, status: 'done', exit_code: 0, stdout: 'classic\n', stderr: '' });
  });

  it('streams output as SSE events while the job runs, then the result; replays a finished job', async () => {
    const { body } = await submit(
      {
        language: 'python',
        code: 'import time\nfor i in range(3):\n  print(i, flush=True)\n  time.sleep(0.3)',
      },
      false,
    );
    const seen: Array<{ type: string; at: number; data?: string }> = [];
    const start = performance.now();
    for await (const e of sdk.jobs.stream(body.id)) {
      seen.push({
        type: e.type,
        at: performance.now() - start,
        ...(e.type === 'output' ? { data: e.data } : {}),
      });
    }
    const outputs = seen.filter((e) => e.type === 'output');
    expect(outputs.map((e) => e.data).join('')).toBe('0\n1\n2\n');
    const result = seen.at(-1);
    expect(result?.type).toBe('result');
    // The first line arrived well before the job ended: it was streamed, not replayed at the end.
    expect((outputs[0]?.at ?? 0) + 300).toBeLessThan(result?.at ?? 0);
    const replay = [];
    for await (const e of sdk.jobs.stream(body.id)) replay.push(e);
    expect(replay).toHaveLength(1);
    expect(replay[0]).toMatchObject({ type: 'result', job: { id: body.id, status: 'completed' } });
  });

  it('cancels a running job (409 once finished) and lists jobs newest first', async () => {
    const { body } = await submit({ language: 'python', code: 'import time\ntime.sleep(30)' }, false);
    for (let i = 0; i < 100 && (await sdk.jobs.get(body.id)).status !== 'running'; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const cancelled = await sdk.jobs.cancel(body.id);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.error?.code).toBe('CANCELLED');
    const again = await fetch(`${server.url}/v1/jobs/${body.id}`, { method: 'DELETE' });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('JOB_FINISHED');
    const page = await sdk.jobs.list({ limit: 2 });
    expect(page.jobs[0]?.id).toBe(body.id);
    expect(page.nextCursor).not.toBeNull();
    const next = await sdk.jobs.list({ limit: 2, cursor: page.nextCursor ?? '' });
    expect(next.jobs.map((j) => j.id)).not.toContain(body.id);
  });

  it('runs a batch, each item its own job', async () => {
    const items = await sdk.jobs.batch([
      { language: 'python', code: 'print(1)' },
      { language: 'nope', code: 'x' },
      { language: 'bash', code: 'echo $((2+2))' },
    ]);
    expect('id' in items[0]! && 'error' in items[1]! && 'id' in items[2]!).toBe(true);
    const third = await sdk.jobs.wait((items[2] as { id: string }).id);
    expect(third.result?.stdout).toBe('4\n');
  });

  it('runs an interactive job over WebSocket with streamed stdin', async () => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/jobs/interactive`);
    const msgs: Array<Record<string, unknown>> = [];
    const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
    ws.on('message', (raw) => {
      const m = JSON.parse(String(raw)) as Record<string, unknown>;
      msgs.push(m);
      if (m.type === 'runtime') {
        ws.send(JSON.stringify({ type: 'stdin', data: 'world\n' }));
        ws.send(JSON.stringify({ type: 'close-stdin' }));
      }
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(
      JSON.stringify({
        type: 'init',
        language: 'python',
        code: 'import sys\nfor l in sys.stdin: print("hello", l.strip())',
      }),
    );
    await closed;
    expect(msgs.find((m) => m.type === 'error')).toBeUndefined();
    expect(msgs[0]).toMatchObject({ type: 'runtime', language: 'python', backend: 'bwrap' });
    const out = msgs
      .filter((m) => m.type === 'output')
      .map((m) => m.data)
      .join('');
    expect(out).toBe('hello world\n');
    expect(msgs.at(-1)).toMatchObject({ type: 'exit', exitCode: 0, stdout: 'hello world\n' });
  });

  it('answers a WebSocket error for a bad init', async () => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/jobs/interactive`);
    const msgs: Array<Record<string, unknown>> = [];
    ws.on('message', (raw) => msgs.push(JSON.parse(String(raw))));
    const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
    await new Promise((r) => ws.once('open', r));
    ws.send('not json');
    await closed;
    expect(msgs).toEqual([expect.objectContaining({ type: 'error', code: 'INVALID_JSON' })]);
  });

  it('reports health, languages and Prometheus metrics', async () => {
    const health = await sdk.health();
    expect(health.ok).toBe(true);
    const langs = await sdk.languages();
    expect(langs.find((l) => l.name === 'python')).toMatchObject({
      available: true,
      compiled: false,
      image: 'default',
    });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/hearth_jobs_total\{status="completed"\} \d+/);
    expect(metrics).toMatch(/hearth_sandbox_allocations_total [1-9]/);
    expect(metrics).toContain('hearth_queue_depth 0');
    expect(metrics).toContain('hearth_job_duration_seconds_bucket');
  });
});
