import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hearthPaths } from '../../src/config/paths.js';
import { type JobsConfig, jobsConfig } from '../../src/jobs/config.js';
import { JobService } from '../../src/jobs/service.js';
import type { JobPage } from '../../src/jobs/summary.js';
import type { Job } from '../../src/jobs/types.js';
import { type RunningServer, startServer } from '../../src/server/start.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { settledLeftovers } from '../leak-check.js';

// Storage attacks against a real server (port 0), real SQLite files and real bwrap sandboxes:
// binary output, many large outputs, jobs that pile up, and the database's disk filling up. The
// store is the same whatever ran the job, so these run on bwrap alone.

const MB = 1 << 20;
const DAY = 24 * 3600_000;
/**
 * Prints `bytes` random bytes on stdout and their SHA-256 on stderr; with `sleepS`, first says
 * `started` on stderr and sleeps.
 */
const randomOutput = (bytes: number, sleepS = 0) => ({
  language: 'python',
  code: `import hashlib, os, sys, time\nif ${sleepS}:\n  sys.stderr.write('started\\n'); sys.stderr.flush(); time.sleep(${sleepS})\nb = os.urandom(${bytes})\nsys.stdout.buffer.write(b)\nsys.stderr.write(hashlib.sha256(b).hexdigest())`,
  limits: { maxOutputBytes: 2 * MB },
  backend: 'bwrap',
});

/** A job, or an error answer (whose `error` has the same shape as a job's). */
async function post(url: string, body: unknown): Promise<{ status: number; body: Job }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Job };
}

async function getJson<T>(url: string): Promise<{ status: number; text: string; body: T }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as T };
}

/** Reads a job's SSE stream to its end; `onText` sees what arrived so far. */
async function readEvents(url: string, onText: (soFar: string) => void): Promise<string> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream' } });
  expect(res.status).toBe(200);
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    text += decoder.decode(chunk, { stream: true });
    onText(text);
  }
  return text;
}

const serverOn = (db: string, config: Partial<JobsConfig> = {}) =>
  startServer({
    port: 0,
    paths: { ...hearthPaths(), db },
    config: { ...jobsConfig({}), defaultBackend: 'bwrap', ...config },
    logger: false,
    shutdownGraceMs: 0,
  });

describe('storage: outputs, listing and retention', () => {
  let dir: string;
  let server: RunningServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-storage-'));
    server = await serverOn(join(dir, 'hearth.db'));
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
    expect(await settledLeftovers()).toEqual([]);
  });

  it('stores 1 MB of random output at about its size and reads it back byte-exact', async () => {
    const reader = new Sqlite(join(dir, 'hearth.db'), { readonly: true });
    const pages = () => reader.pragma('page_count', { simple: true }) as number;
    const pageSize = reader.pragma('page_size', { simple: true }) as number;
    const before = pages();
    const { status, body } = await post(`${server.url}/v1/jobs?wait=true`, randomOutput(MB));
    expect(status).toBe(200);
    const growth = (pages() - before) * pageSize;
    reader.close();
    expect(growth).toBeGreaterThanOrEqual(MB);
    expect(growth).toBeLessThan(1.2 * MB);
    // Read back from the store (the job is no longer live), over HTTP.
    const { body: job } = await getJson<Job>(`${server.url}/v1/jobs/${body.id}`);
    expect(job.status).toBe('completed');
    const bytes = Buffer.from(job.result?.stdoutBase64 ?? '', 'base64');
    expect(bytes.length).toBe(MB);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(job.result?.stderr);
  });

  it('lists 16 jobs of 1 MB output each in a small page', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { status, body } = await post(`${server.url}/v1/jobs`, randomOutput(MB));
      expect(status).toBe(202);
      ids.push(body.id);
    }
    for (const id of ids) expect((await server.service.wait(id)).status).toBe('completed');
    const { status, text, body } = await getJson<JobPage>(`${server.url}/v1/jobs?limit=16`);
    expect(status).toBe(200);
    expect(text.length).toBeLessThan(16 * 1024);
    expect(body.jobs).toHaveLength(16);
    expect(body.jobs.map((j) => j.id)).toEqual(ids.slice(-16).reverse());
    for (const j of body.jobs) {
      expect(j.result).toMatchObject({ stage: 'run', exitCode: 0, stdoutBytes: MB, stderrBytes: 64 });
      expect(j).not.toHaveProperty('request');
    }
    expect(body.nextCursor).toEqual(expect.any(String));
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});

describe('storage: retention deletes old finished jobs, never queued or running ones', () => {
  let dir: string;
  let store: SqliteStore;
  let service: JobService;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-retention-'));
    store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
    service = new JobService({
      store,
      paths: hearthPaths(),
      // One job at a time, so a second one stays queued; keep 7 days and at most 2 finished jobs.
      config: {
        ...jobsConfig({}),
        defaultBackend: 'bwrap',
        concurrency: 1,
        retentionMs: 7 * DAY,
        retentionJobs: 2,
      },
    });
  });
  afterAll(async () => {
    await service?.close({ graceMs: 0 });
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
    expect(await settledLeftovers()).toEqual([]);
  });

  it('prunes by count and by age, from the clock it is given', async () => {
    const done: string[] = [];
    for (let i = 0; i < 4; i++) {
      const job = await service.submit({ language: 'python', code: `print(${i})` });
      expect((await service.wait(job.id)).status).toBe('completed');
      done.push(job.id);
    }
    const sleeper = await service.submit({ language: 'python', code: 'import time\ntime.sleep(60)' });
    const queued = await service.submit({ language: 'python', code: 'print("later")' });
    await new Promise<void>((resolve) => {
      void service.subscribe(sleeper.id, (e) => e.type === 'status' && e.status === 'running' && resolve());
    });
    expect((await service.get(queued.id)).status).toBe('queued');

    // Now: nothing is older than 7 days, but only the newest 2 finished jobs are kept.
    expect(await service.retention.run(Date.now())).toBe(2);
    const ids = async () => (await service.list({})).jobs.map((j) => j.id);
    expect(await ids()).toEqual([queued.id, sleeper.id, done[3], done[2]]);
    await expect(service.get(done[0] as string)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });

    // Eight days on: every finished job is past the age; the queued and running ones stay.
    expect(await service.retention.run(Date.now() + 8 * DAY)).toBe(2);
    expect(await ids()).toEqual([queued.id, sleeper.id]);
    expect((await service.get(sleeper.id)).status).toBe('running');
    const reader = new Sqlite(join(dir, 'hearth.db'), { readonly: true });
    expect(reader.prepare('select count(*) as n from job_outputs').get()).toEqual({ n: 0 });
    reader.close();

    await service.cancel(sleeper.id);
    expect((await service.wait(queued.id)).result?.stdout).toBe('later\n');
  });
});

describe('storage: retention at start-up', () => {
  it('deletes, as the server starts, jobs that finished past the retention age', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-retention-start-'));
    const path = join(dir, 'hearth.db');
    const store = await SqliteStore.open({ path });
    const request = { language: 'python', code: 'print(1)' };
    for (const [id, ageMs] of [
      ['old', 8 * DAY],
      ['recent', DAY],
    ] as const) {
      const at = Date.now() - ageMs;
      await store.insert({ id, language: 'python', version: null, backend: null, request, createdAtMs: at });
      await store.finish(id, {
        status: 'error',
        error: { code: 'X', message: 'm', hint: 'h' },
        finishedAtMs: at,
      });
    }
    await store.close();
    const server = await serverOn(path);
    try {
      const ids = async () => (await server.service.list({})).jobs.map((j) => j.id);
      for (let i = 0; i < 100 && (await ids()).includes('old'); i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(await ids()).toEqual(['recent']);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('storage: the database disk fills up', () => {
  let dir: string;
  let server: RunningServer;
  let mounted = false;
  const filler = () => join(dir, 'filler');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0700', 'hearth-test-full', dir]);
    mounted = true;
    // One job at a time, so a job can be waiting in the queue when the disk fills.
    server = await serverOn(join(dir, 'hearth.db'), { concurrency: 1 });
  });
  afterAll(async () => {
    await server?.close();
    if (mounted) execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
    expect(await settledLeftovers()).toEqual([]);
  });

  /** Writes a file until the filesystem has no room left. */
  function fill(): void {
    const fd = openSync(filler(), 'w');
    const chunk = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      closeSync(fd);
    }
    // The last partial chunk may leave a few bytes; take them too.
    const tail = openSync(join(dir, 'filler-tail'), 'w');
    try {
      for (;;) writeSync(tail, Buffer.alloc(512, 1));
    } catch {
    } finally {
      closeSync(tail);
    }
  }

  it('refuses submissions with STORE_FULL, ends a running job with it, and works again once space is back', async () => {
    // A job whose program is running when the disk fills; its 1 MB result cannot be written then.
    const { body: first } = await post(`${server.url}/v1/jobs`, randomOutput(MB, 3));
    let running!: () => void;
    const isRunning = new Promise<void>((r) => (running = r));
    const stream = readEvents(`${server.url}/v1/jobs/${first.id}/events`, (t) => {
      if (t.includes('"data":"started')) running();
    });
    await isRunning;
    // Accepted and stored before the disk fills; it cannot even be marked running afterwards.
    const { body: waiting } = await post(`${server.url}/v1/jobs`, { language: 'python', code: 'print(2)' });
    expect(waiting.status).toBe('queued');
    const waitingStream = readEvents(`${server.url}/v1/jobs/${waiting.id}/events`, () => {});
    fill();

    const refused = await post(`${server.url}/v1/jobs`, { language: 'python', code: 'print(1)' });
    expect(refused.status).toBe(507);
    expect(refused.body.error).toMatchObject({
      code: 'STORE_FULL',
      hint: expect.stringMatching(/disk is full/),
    });

    // The running job ends with the store's code and its event stream closes.
    const events = await stream;
    const last = events.trim().split('\n\n').at(-1) ?? '';
    expect(last).toMatch(/^event: result\n/);
    const ended = JSON.parse(last.split('\ndata: ')[1] ?? '{}') as Job;
    expect(ended).toMatchObject({ id: first.id, status: 'error', error: { code: 'STORE_FULL' } });
    expect((await getJson<Job>(`${server.url}/v1/jobs/${first.id}`)).body.error?.code).toBe('STORE_FULL');
    expect(await waitingStream).toMatch(/event: result\ndata: .*"status":"error".*"code":"STORE_FULL"/);
    expect((await getJson<Job>(`${server.url}/v1/jobs/${waiting.id}`)).body).toMatchObject({
      status: 'error',
      error: { code: 'STORE_FULL' },
    });
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const listed = await getJson<JobPage>(`${server.url}/v1/jobs`);
    expect(listed.status).toBe(200);
    expect(listed.body.jobs.find((j) => j.id === first.id)?.status).toBe('error');

    // Space comes back: a new job runs to the end, and the held error reaches the store.
    rmSync(filler());
    rmSync(join(dir, 'filler-tail'));
    const again = await post(`${server.url}/v1/jobs?wait=true`, {
      language: 'python',
      code: 'print("back")',
    });
    expect(again.status).toBe(200);
    expect(again.body.result?.stdout).toBe('back\n');
    for (const id of [first.id, waiting.id]) {
      expect(await server.service.store.get(id)).toMatchObject({
        status: 'error',
        error: { code: 'STORE_FULL' },
      });
    }
  }, 120_000);
});
