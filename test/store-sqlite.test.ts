import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SandboxRecord } from '../src/sandboxes/ledger.js';
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
});
