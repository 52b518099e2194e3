import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SandboxRecord } from '../src/host/ledger.js';
import { toStepResult } from '../src/jobs/output.js';
import type { JobResult } from '../src/jobs/types.js';
import { SqliteStore } from '../src/store/sqlite-store.js';

let dir: string;
let store: SqliteStore;

const newJob = (id: string, createdAtMs = Date.now(), language = 'python') => ({
  id,
  language,
  version: null,
  backend: null,
  request: { language, code: `print("${id}")` },
  createdAtMs,
});

/** A finished result whose run step printed `stdout` (and the compile step `compileOut`, if given). */
function resultOf(stdout: Buffer, compileOut?: Buffer): JobResult {
  const step = (out: Buffer) =>
    toStepResult({
      exitCode: 0,
      signal: null,
      stdout: out,
      stderr: Buffer.from('warn\n'),
      timedOut: false,
      truncated: false,
      outOfMemory: false,
      cpuTimeMs: 3,
      wallTimeMs: 4,
      peakMemoryKb: 5,
    });
  const { cpuTimeMs: _c, wallTimeMs: _w, peakMemoryKb: _p, ...exit } = step(stdout);
  return {
    ...exit,
    stage: 'run',
    ...(compileOut ? { compile: step(compileOut) } : {}),
    timing: { queuedMs: 1, startMs: 2, runMs: 4, totalMs: 9 },
    usage: { cpuTimeMs: 3, peakMemoryKb: 5 },
  };
}

describe('SqliteStore', () => {
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-store-'));
    store = await SqliteStore.open({ path: join(dir, 'sub', 'hearth.db') });
  });
  afterEach(async () => {
    await store.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a queued job, runs it once, finishes it once', async () => {
    await store.insert(newJob('a'));
    expect(existsSync(join(dir, 'sub', 'hearth.db-wal'))).toBe(true);
    expect((await store.get('a'))?.status).toBe('queued');
    expect(await store.markRunning('a', { backend: 'bwrap', ownerPid: 42, startedAtMs: 5 })).toBe(true);
    expect(await store.markRunning('a', { backend: 'bwrap', ownerPid: 42, startedAtMs: 5 })).toBe(false);
    const err = { code: 'X', message: 'm', hint: 'h' };
    expect(await store.finish('a', { status: 'error', error: err, finishedAtMs: 9 })).toBe(true);
    expect(await store.finish('a', { status: 'completed', finishedAtMs: 10 })).toBe(false);
    const job = await store.get('a');
    expect(job).toMatchObject({ status: 'error', backend: 'bwrap', attempts: 1, error: err, result: null });
    expect(job?.request).toEqual({ language: 'python', code: 'print("a")' });
    expect(await store.get('missing')).toBeUndefined();
  });

  it('pages newest first with filters and rejects a forged cursor', async () => {
    for (let i = 0; i < 7; i++) await store.insert(newJob(`j${i}`, 1000 + i, i % 2 ? 'c' : 'python'));
    const p1 = await store.list({ limit: 3 });
    expect(p1.jobs.map((j) => j.id)).toEqual(['j6', 'j5', 'j4']);
    const p2 = await store.list({ limit: 3, cursor: p1.nextCursor ?? '' });
    expect(p2.jobs.map((j) => j.id)).toEqual(['j3', 'j2', 'j1']);
    const p3 = await store.list({ limit: 3, cursor: p2.nextCursor ?? '' });
    expect(p3.jobs.map((j) => j.id)).toEqual(['j0']);
    expect(p3.nextCursor).toBeNull();
    expect((await store.list({ language: 'c' })).jobs.map((j) => j.id)).toEqual(['j5', 'j3', 'j1']);
    await store.markRunning('j2', { backend: 'bwrap', ownerPid: 1, startedAtMs: 1 });
    expect((await store.list({ status: 'running' })).jobs.map((j) => j.id)).toEqual(['j2']);
    await expect(store.list({ cursor: 'not-a-cursor' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('lists unfinished jobs oldest first and requeues a running one', async () => {
    await store.insert(newJob('q1'));
    await store.insert(newJob('r1'));
    await store.insert(newJob('done'));
    await store.markRunning('r1', { backend: 'bwrap', ownerPid: 77, startedAtMs: 1 });
    await store.finish('done', { status: 'completed', finishedAtMs: 2 });
    expect(await store.unfinished()).toEqual([
      { id: 'q1', status: 'queued', ownerPid: null },
      { id: 'r1', status: 'running', ownerPid: 77 },
    ]);
    expect(await store.requeue('r1')).toBe(true);
    expect(await store.requeue('q1')).toBe(false);
    expect((await store.get('r1'))?.status).toBe('queued');
  });

  it('keeps the sandbox ledger synchronously, across a reopen', async () => {
    const rec: SandboxRecord = {
      id: 'bwrap-1-abc',
      backend: 'bwrap',
      ownerPid: 123,
      pids: [{ pid: 5, startTime: '99' }],
      paths: ['/tmp/x'],
      mounts: [],
      cgroups: ['/sys/fs/cgroup/memory/hearth/bwrap-1-abc'],
      labels: { job: 'j' },
      createdAt: new Date().toISOString(),
    };
    store.ledger.put(rec);
    store.ledger.put({ ...rec, pids: [] });
    expect(store.ledger.list()).toEqual([{ ...rec, pids: [] }]);
    await store.close();
    store = await SqliteStore.open({ path: join(dir, 'sub', 'hearth.db') });
    expect(store.ledger.list()).toHaveLength(1);
    store.ledger.remove(rec.id);
    expect(store.ledger.list()).toEqual([]);
  });

  it('survives a reopen with its jobs (migrations run once)', async () => {
    await store.insert(newJob('keep'));
    await store.close();
    store = await SqliteStore.open({ path: join(dir, 'sub', 'hearth.db') });
    expect((await store.get('keep'))?.status).toBe('queued');
  });

  it('keeps outputs as bytes at their size, byte-exact, and lists sizes instead of output', async () => {
    const path = join(dir, 'sub', 'hearth.db');
    const reader = new Sqlite(path, { readonly: true });
    const bytes = () => (reader.pragma('page_count', { simple: true }) as number) * 4096;
    await store.insert(newJob('bin'));
    const before = bytes();
    const out = randomBytes(512 * 1024);
    const result = resultOf(out, Buffer.from([0xff, 0x00, 0xfe]));
    expect(result.stdoutBase64).toBeDefined();
    expect(await store.finish('bin', { status: 'completed', result, finishedAtMs: 9 })).toBe(true);
    // Random bytes used to be kept as replaced text plus base64 (≈4.5×); now at their size.
    expect(bytes() - before).toBeGreaterThanOrEqual(out.length);
    expect(bytes() - before).toBeLessThan(out.length * 1.1);
    reader.close();
    const job = await store.get('bin');
    expect(job?.result).toEqual(result);
    expect(Buffer.from(job?.result?.stdoutBase64 ?? '', 'base64').equals(out)).toBe(true);
    const [summary] = (await store.list({})).jobs;
    expect(summary?.result).toMatchObject({
      stage: 'run',
      exitCode: 0,
      stdoutBytes: out.length,
      stderrBytes: 5,
    });
    expect(JSON.stringify(summary).length).toBeLessThan(1000);
    expect(summary).not.toHaveProperty('request');
  });

  it('keeps a failed compile step once, read back as both the top level and the compile step', async () => {
    await store.insert(newJob('cc'));
    const msg = Buffer.from('main.c:1: error\n');
    const { compile: _x, ...base } = resultOf(msg);
    const result: JobResult = { ...base, stage: 'compile', compile: resultOf(msg, msg).compile };
    await store.finish('cc', { status: 'completed', result, finishedAtMs: 1 });
    expect((await store.get('cc'))?.result).toEqual(result);
  });

  it('prunes finished jobs by age and count, never queued or running ones', async () => {
    for (let i = 0; i < 6; i++) {
      await store.insert(newJob(`f${i}`, 1000 + i));
      await store.finish(`f${i}`, {
        status: 'completed',
        result: resultOf(randomBytes(64 * 1024)),
        finishedAtMs: 1000 + i,
      });
    }
    await store.insert(newJob('queued', 10));
    await store.insert(newJob('running', 11));
    await store.markRunning('running', { backend: 'bwrap', ownerPid: 1, startedAtMs: 12 });
    // Age: f0 and f1 finished before 1002.
    expect(await store.prune({ finishedBeforeMs: 1002, keepFinished: 100 })).toBe(2);
    // Count: of f2..f5 only the newest two stay.
    expect(await store.prune({ finishedBeforeMs: 0, keepFinished: 2 })).toBe(2);
    const ids = (await store.list({})).jobs.map((j) => j.id);
    expect(ids).toEqual(['running', 'queued', 'f5', 'f4']);
    expect(await store.get('f0')).toBeUndefined();
    // Everything finished goes at a count of 0; the space goes back to the filesystem.
    expect(await store.prune({ finishedBeforeMs: 0, keepFinished: 0 })).toBe(2);
    const raw = new Sqlite(join(dir, 'sub', 'hearth.db'), { readonly: true });
    expect(raw.prepare('select count(*) as n from job_outputs').get()).toEqual({ n: 0 });
    expect(raw.pragma('freelist_count', { simple: true })).toBe(0);
    raw.close();
    expect((await store.list({})).jobs.map((j) => j.id)).toEqual(['running', 'queued']);
  });

  it('migrates jobs stored with their output in the result JSON, keeping them readable', async () => {
    await store.close();
    const path = join(dir, 'old.db');
    const old = new Sqlite(path);
    // The layout of migration 0001, as a database from before outputs moved out of `result`.
    old.exec(`
      create table jobs (seq integer primary key autoincrement, id text not null unique, status text not null,
        language text not null, version text, backend text, request text not null, result text, error text,
        created_at bigint not null, started_at bigint, finished_at bigint, attempts integer default 0 not null,
        owner_pid integer);
      create table sandboxes (id text primary key, owner_pid integer not null, record text not null, created_at bigint not null);
      create table kysely_migration (name varchar(255) not null primary key, timestamp varchar(255) not null);
      insert into kysely_migration values ('0001-jobs-and-sandboxes', '2026-01-01T00:00:00.000Z');`);
    const out = Buffer.concat([Buffer.from('text then bytes '), randomBytes(2048)]);
    const result = resultOf(out, Buffer.from('compiled\n'));
    const insert = old.prepare(
      `insert into jobs (id, status, language, request, result, created_at, finished_at) values (?, ?, 'c', '{}', ?, 1, 2)`,
    );
    insert.run('old', 'completed', JSON.stringify(result));
    insert.run('old-error', 'error', null);
    old.close();
    store = await SqliteStore.open({ path });
    expect((await store.get('old'))?.result).toEqual(result);
    expect((await store.get('old-error'))?.result).toBeNull();
    const raw = new Sqlite(path, { readonly: true });
    const row = raw.prepare(`select result from jobs where id = 'old'`).get() as { result: string };
    expect(row.result).not.toContain('stdout');
    expect(raw.pragma('auto_vacuum', { simple: true })).toBe(2);
    raw.close();
    expect((await store.list({})).jobs[1]?.result?.stdoutBytes).toBe(out.length);
  });
});
