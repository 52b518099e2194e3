/**
 * The manager's sandbox rows, sessions and snapshots on a real SQLite file: round trips, the
 * metadata filter, leases, snapshot accounting, deletes, and the upgrade of a database made by
 * the schema before them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SandboxRecord } from '../src/host/ledger.js';
import type { SandboxRowsPort } from '../src/sandboxes/rows.js';
import { migrate } from '../src/store/migrations.js';
import type { SandboxRow } from '../src/store/sandbox-row-store.js';
import type { Database } from '../src/store/schema.js';
import type { SessionRow } from '../src/store/session-store.js';
import type { SnapshotRow } from '../src/store/snapshot-store.js';
import { SqliteStore } from '../src/store/sqlite-store.js';

let dir: string;
let path: string;
let store: SqliteStore;

const sandbox = (id: string, o: Partial<SandboxRow> = {}): SandboxRow => ({
  id,
  backend: 'bwrap',
  image: 'default',
  state: 'ready',
  spec: { image: 'default', memoryMb: 256, env: { A: '1' }, labels: { session: 's1' } },
  ownerWorker: 'w1',
  leaseUntilMs: 10_000,
  expiresAtMs: null,
  labels: { session: 's1' },
  createdAtMs: 1_000,
  ...o,
});

const session = (id: string, o: Partial<SessionRow> = {}): SessionRow => ({
  id,
  state: 'running',
  backend: 'qemu',
  image: 'python',
  spec: { memoryMb: 512, vcpus: 1, diskMb: 256, env: { LANG: 'C.UTF-8' } },
  metadata: {},
  sandboxId: null,
  pausedSnapshotId: null,
  error: null,
  createdAtMs: 1_000,
  expiresAtMs: 100_000,
  updatedAtMs: 1_000,
  ...o,
});

const snapshot = (id: string, sessionId: string, sizeBytes: number, createdAtMs = 2_000): SnapshotRow => ({
  id,
  sessionId,
  name: `n-${id}`,
  kind: 'memory',
  info: {
    dir: `/snapshots/${id}`,
    kind: 'memory',
    sizeBytes,
    createdAt: '1970-01-01T00:00:02.000Z',
    meta: { template: 't1' },
  },
  backend: 'qemu',
  image: 'python',
  spec: { memoryMb: 512, env: {} },
  dir: join('/var/lib/hearth-test/snapshots', id),
  sizeBytes,
  createdAtMs,
});

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-sessions-'));
  path = join(dir, 'hearth.db');
  store = await SqliteStore.open({ path });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sandbox rows', () => {
  it('round-trip, update, list by owner and delete', async () => {
    const row = sandbox('bwrap-1-a', { expiresAtMs: 50_000 });
    await store.sandboxes.insertSandbox(row);
    await store.sandboxes.insertSandbox(sandbox('bwrap-1-b', { ownerWorker: 'w2', createdAtMs: 2_000 }));
    expect(await store.sandboxes.getSandbox('bwrap-1-a')).toEqual(row);
    await store.sandboxes.updateSandbox('bwrap-1-a', {
      state: 'leased',
      expiresAtMs: null,
      labels: { x: 'y' },
    });
    expect(await store.sandboxes.getSandbox('bwrap-1-a')).toEqual({
      ...row,
      state: 'leased',
      expiresAtMs: null,
      labels: { x: 'y' },
    });
    await store.sandboxes.updateSandbox('missing', { state: 'ready' });
    expect(await store.sandboxes.getSandbox('missing')).toBeUndefined();
    expect((await store.sandboxes.listSandboxes()).map((r) => r.id)).toEqual(['bwrap-1-a', 'bwrap-1-b']);
    expect((await store.sandboxes.listSandboxes({ ownerWorker: 'w2' })).map((r) => r.id)).toEqual([
      'bwrap-1-b',
    ]);
    await store.sandboxes.deleteSandbox('bwrap-1-a');
    expect(await store.sandboxes.getSandbox('bwrap-1-a')).toBeUndefined();
    await expect(store.sandboxes.insertSandbox(sandbox('bwrap-1-b'))).rejects.toMatchObject({
      code: 'INTERNAL',
    });
  });

  it("renews one worker's leases in one statement; a passed lease is listed and claimed once", async () => {
    // The store's rows are what the sandbox manager takes as its port.
    const managerRows: SandboxRowsPort = store.sandboxes;
    await managerRows.insertSandbox(sandbox('a', { ownerWorker: 'w1', leaseUntilMs: 1_000 }));
    await store.sandboxes.insertSandbox(sandbox('b', { ownerWorker: 'w1', leaseUntilMs: 1_000 }));
    await store.sandboxes.insertSandbox(sandbox('c', { ownerWorker: 'gone', leaseUntilMs: 1_000 }));
    expect(await managerRows.renewLeases('w1', 5_000)).toBe(2);
    expect(await store.sandboxes.renewLeases('nobody', 5_000)).toBe(0);
    expect((await store.sandboxes.getSandbox('a'))?.leaseUntilMs).toBe(5_000);
    // At 1 000 the lease of `c` has passed (a lease is live while now < leaseUntil); w1's are live.
    expect((await store.sandboxes.expiredLeases(1_000)).map((r) => r.id)).toEqual(['c']);
    expect((await store.sandboxes.expiredLeases(999)).map((r) => r.id)).toEqual([]);
    expect((await store.sandboxes.expiredLeases(6_000)).map((r) => r.id)).toEqual(['c', 'a', 'b']);
    const claim = { workerId: 'w3', nowMs: 2_000, leaseUntilMs: 9_000 };
    expect(await store.sandboxes.claimSandbox('a', claim)).toBe(false);
    expect(await store.sandboxes.claimSandbox('c', claim)).toBe(true);
    expect(await store.sandboxes.claimSandbox('c', { ...claim, workerId: 'w4' })).toBe(false);
    expect(await store.sandboxes.getSandbox('c')).toMatchObject({ ownerWorker: 'w3', leaseUntilMs: 9_000 });
    expect(await store.sandboxes.claimSandbox('missing', claim)).toBe(false);
  });
});

describe('sessions and snapshots', () => {
  it('round-trip, and a conditional update changes a row only from the states given', async () => {
    const row = session('s1', {
      metadata: { user: 'ada' },
      sandboxId: 'qemu-1-a',
      error: { code: 'SANDBOX_DIED', message: 'gone' },
    });
    await store.sessions.insertSession(row);
    expect(await store.sessions.getSession('s1')).toEqual(row);
    expect(await store.sessions.getSession('nope')).toBeUndefined();
    const paused = { state: 'paused' as const, sandboxId: null, pausedSnapshotId: 'snap1', updatedAtMs: 7 };
    expect(await store.sessions.updateSession('s1', paused, { ifState: ['starting'] })).toBe(false);
    expect(await store.sessions.updateSession('s1', paused, { ifState: ['running'] })).toBe(true);
    expect(await store.sessions.updateSession('s1', { error: null, expiresAtMs: 9 })).toBe(true);
    const after = await store.sessions.getSession('s1');
    expect(after).toEqual({
      ...row,
      ...paused,
      error: null,
      expiresAtMs: 9,
      updatedAtMs: after?.updatedAtMs,
    });
    expect(after?.updatedAtMs).toBeGreaterThan(7);
    expect(await store.sessions.updateSession('missing', { state: 'ended' })).toBe(false);
  });

  it('filters by metadata on every key given, exactly, and by state', async () => {
    await store.sessions.insertSession(
      session('a', { metadata: { user: 'ada', team: 'x' }, createdAtMs: 1 }),
    );
    await store.sessions.insertSession(session('b', { metadata: { user: 'ada' }, createdAtMs: 2 }));
    await store.sessions.insertSession(
      session('c', { metadata: { user: 'adam', team: 'x' }, createdAtMs: 3 }),
    );
    await store.sessions.insertSession(
      session('d', { metadata: { 'we"ird.$key': "it's", user: 'ada' }, state: 'paused', createdAtMs: 4 }),
    );
    const ids = async (q: Parameters<typeof store.sessions.listSessions>[0]) =>
      (await store.sessions.listSessions(q)).map((s) => s.id);
    expect(await ids({})).toEqual(['a', 'b', 'c', 'd']);
    expect(await ids({ metadata: { user: 'ada' } })).toEqual(['a', 'b', 'd']);
    expect(await ids({ metadata: { user: 'ada', team: 'x' } })).toEqual(['a']);
    expect(await ids({ metadata: { team: 'x' } })).toEqual(['a', 'c']);
    expect(await ids({ metadata: { user: 'ad' } })).toEqual([]);
    expect(await ids({ metadata: { 'we"ird.$key': "it's" } })).toEqual(['d']);
    expect(await ids({ metadata: { user: 'ada' }, states: ['running'] })).toEqual(['a', 'b']);
    expect(await ids({ states: ['paused', 'dead'] })).toEqual(['d']);
    expect(await ids({ states: [] })).toEqual([]);
  });

  it('lists expired sessions that have not ended', async () => {
    await store.sessions.insertSession(session('soon', { expiresAtMs: 500 }));
    await store.sessions.insertSession(session('paused', { expiresAtMs: 400, state: 'paused' }));
    await store.sessions.insertSession(session('ended', { expiresAtMs: 100, state: 'ended' }));
    await store.sessions.insertSession(session('later', { expiresAtMs: 900 }));
    expect((await store.sessions.expiredSessions(500)).map((s) => s.id)).toEqual(['paused', 'soon']);
    expect(await store.sessions.expiredSessions(399)).toEqual([]);
  });

  it('accounts snapshot bytes, and deleting a session deletes its snapshots', async () => {
    expect(await store.snapshots.totalSnapshotBytes()).toBe(0);
    await store.sessions.insertSession(session('s1'));
    await store.sessions.insertSession(session('s2'));
    const big = 5 * 1024 ** 3; // past 32 bits, as a memory snapshot of a large VM may be
    await store.snapshots.insertSnapshot(snapshot('p2', 's1', big, 3_000));
    await store.snapshots.insertSnapshot(snapshot('p1', 's1', 100, 2_000));
    await store.snapshots.insertSnapshot(snapshot('q1', 's2', 7));
    expect(await store.snapshots.getSnapshot('p2')).toEqual(snapshot('p2', 's1', big, 3_000));
    expect((await store.snapshots.listSnapshots('s1')).map((s) => s.id)).toEqual(['p1', 'p2']);
    expect(await store.snapshots.totalSnapshotBytes()).toBe(big + 107);
    await expect(store.snapshots.insertSnapshot(snapshot('x', 'no-such-session', 1))).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await store.snapshots.deleteSnapshot('q1')).toBe(true);
    expect(await store.snapshots.deleteSnapshot('q1')).toBe(false);
    expect(await store.snapshots.totalSnapshotBytes()).toBe(big + 100);
    expect(await store.sessions.deleteSession('s1')).toBe(true);
    expect(await store.sessions.deleteSession('s1')).toBe(false);
    expect(await store.snapshots.listSnapshots('s1')).toEqual([]);
    expect(await store.snapshots.getSnapshot('p1')).toBeUndefined();
    expect(await store.snapshots.totalSnapshotBytes()).toBe(0);
    expect(await store.sessions.getSession('s2')).toBeDefined();
  });

  it('keeps paused sessions and their snapshots across a reopen', async () => {
    await store.sessions.insertSession(session('s1', { state: 'paused', pausedSnapshotId: 'p1' }));
    await store.snapshots.insertSnapshot(snapshot('p1', 's1', 4096));
    await store.close();
    store = await SqliteStore.open({ path });
    expect(await store.sessions.listSessions({ states: ['paused'] })).toEqual([
      session('s1', { state: 'paused', pausedSnapshotId: 'p1' }),
    ]);
    expect(await store.snapshots.getSnapshot('p1')).toEqual(snapshot('p1', 's1', 4096));
  });
});

describe('migration 0003', () => {
  it('upgrades a database of the previous schema: ledger records move to host_resources, the new tables are empty', async () => {
    await store.close();
    const oldPath = join(dir, 'old.db');
    const raw = new Sqlite(oldPath);
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
    await migrate(db, { to: '0002-job-outputs-as-bytes' });
    const rec: SandboxRecord = {
      id: 'bwrap-77-12-abc',
      backend: 'bwrap',
      ownerPid: 77,
      ownerStartTime: '12',
      pids: [{ pid: 78, startTime: '13' }],
      paths: ['/tmp/hearth-x'],
      mounts: [],
      cgroups: [],
      labels: { job: 'j1' },
      createdAt: new Date(5).toISOString(),
    };
    raw
      .prepare('insert into sandboxes (id, owner_pid, record, created_at) values (?, ?, ?, ?)')
      .run(rec.id, rec.ownerPid, JSON.stringify(rec), 5);
    raw
      .prepare(
        `insert into jobs (id, status, language, request, created_at) values ('j1', 'queued', 'python', '{}', 1)`,
      )
      .run();
    const tables = () =>
      (
        raw.prepare(`select name from sqlite_master where type = 'table' order by name`).all() as {
          name: string;
        }[]
      )
        .map((t) => t.name)
        .filter((n) => !n.startsWith('kysely_') && !n.startsWith('sqlite_'));
    expect(tables()).toEqual(['job_outputs', 'jobs', 'sandboxes']);
    await db.destroy();

    store = await SqliteStore.open({ path: oldPath });
    expect(store.ledger.list()).toEqual([rec]);
    expect((await store.get('j1'))?.status).toBe('queued');
    expect(await store.sandboxes.listSandboxes()).toEqual([]);
    await store.sandboxes.insertSandbox(sandbox(rec.id));
    expect(store.ledger.list()).toEqual([rec]);
    store.ledger.remove(rec.id);
    expect(await store.sandboxes.getSandbox(rec.id)).toEqual(sandbox(rec.id));
    const check = new Sqlite(oldPath, { readonly: true });
    const names = (
      check.prepare(`select name from sqlite_master where type = 'table'`).all() as { name: string }[]
    )
      .map((t) => t.name)
      .sort();
    expect(names).toEqual(expect.arrayContaining(['host_resources', 'sandboxes', 'sessions', 'snapshots']));
    check.close();
  });
});
