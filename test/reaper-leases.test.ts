/**
 * The reaper's lease rule against real records: a real SQLite store holds the host ledger and the
 * manager's sandbox rows, records name real processes and directories. A live lease keeps a
 * sandbox whose creator is dead; a passed lease frees one whose creator lives; without a row the
 * pid rule stays.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hearthPaths } from '../src/config/paths.js';
import { newSandboxRecord, type SandboxRecord } from '../src/host/ledger.js';
import { reapOrphans } from '../src/host/reaper.js';
import { isRunning, ownStartTime, processStartTime } from '../src/host/sandbox-id.js';
import { reaperLeases } from '../src/store/reaper-leases.js';
import type { SandboxRow } from '../src/store/sandbox-row-store.js';
import { SqliteStore } from '../src/store/sqlite-store.js';

let dir: string;
let run: string;
let store: SqliteStore;
const children: ChildProcess[] = [];

async function startedChild(cmd: string, args: string[]): Promise<{ pid: number; startTime: string }> {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  children.push(child);
  const pid = child.pid ?? 0;
  for (let i = 0; i < 200 && !processStartTime(pid); i++) await new Promise((r) => setTimeout(r, 10));
  return { pid, startTime: processStartTime(pid) ?? '' };
}

const row = (id: string, leaseUntilMs: number, ownerWorker = 'other-worker'): SandboxRow => ({
  id,
  backend: 'bwrap',
  image: 'default',
  state: 'leased',
  spec: { image: 'default' },
  ownerWorker,
  leaseUntilMs,
  expiresAtMs: null,
  labels: {},
  createdAtMs: Date.now(),
});

describe('reapOrphans with leases', () => {
  beforeAll(async () => {
    dir = mkdtempSync('/var/tmp/hearth-reaper-leases-');
    run = join(dir, 'run');
    mkdirSync(run);
    store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a live lease keeps, a passed lease frees, no row falls back to the owner pid', async () => {
    const dead = { pid: spawnSync('true').pid ?? 0, startTime: '1' };
    const liveOwner = await startedChild(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    const now = Date.now();
    const hour = 3_600_000;
    /** A record owned by `owner` whose sandbox holds one real process and one directory. */
    const sandboxOf = async (tag: string, owner: { pid: number; startTime: string }) => {
      const id = `bwrap-${owner.pid}-${owner.startTime}-${tag}`;
      const proc = await startedChild('sleep', ['600']);
      const path = join(dir, `${tag}-work`);
      mkdirSync(path);
      const rec: SandboxRecord = {
        ...newSandboxRecord(id, 'bwrap', { paths: [path], pids: [proc] }),
        ownerPid: owner.pid,
        ownerStartTime: owner.startTime,
      };
      store.ledger.put(rec);
      return { id, proc, path };
    };
    const leasedDeadCreator = await sandboxOf('aa01', dead);
    await store.sandboxes.insertSandbox(row(leasedDeadCreator.id, now + hour));
    const expiredLiveCreator = await sandboxOf('aa02', liveOwner);
    await store.sandboxes.insertSandbox(row(expiredLiveCreator.id, now - 1));
    const expiredDeadCreator = await sandboxOf('aa03', dead);
    await store.sandboxes.insertSandbox(row(expiredDeadCreator.id, now - hour));
    const rowlessDead = await sandboxOf('aa04', dead);
    const rowlessLive = await sandboxOf('aa05', liveOwner);
    // This process's own sandbox is never reaped from under it, even with its lease passed.
    const own = await sandboxOf('aa06', { pid: process.pid, startTime: ownStartTime() });
    await store.sandboxes.insertSandbox(row(own.id, now - 1));
    // Leftover run dirs with no record: named by a dead creator, kept or freed by their rows.
    const leasedDir = join(run, `bwrap-${dead.pid}-${dead.startTime}-bb01`);
    const expiredDir = join(run, `bwrap-${liveOwner.pid}-${liveOwner.startTime}-bb02`);
    for (const d of [leasedDir, expiredDir]) mkdirSync(d);
    await store.sandboxes.insertSandbox(row(`bwrap-${dead.pid}-${dead.startTime}-bb01`, now + hour));
    await store.sandboxes.insertSandbox(row(`bwrap-${liveOwner.pid}-${liveOwner.startTime}-bb02`, now - 1));

    const leases = reaperLeases(store.sandboxes, { workerId: 'reaper-worker' });
    const { reaped } = await reapOrphans(store.ledger, { paths: { ...hearthPaths(), run }, leases });

    const freed = [expiredLiveCreator, expiredDeadCreator, rowlessDead];
    const kept = [leasedDeadCreator, rowlessLive, own];
    expect(reaped).toEqual(
      expect.arrayContaining([
        ...freed.map((s) => s.id),
        `bwrap-${liveOwner.pid}-${liveOwner.startTime}-bb02`,
      ]),
    );
    for (const s of kept) expect(reaped).not.toContain(s.id);
    expect(reaped).not.toContain(`bwrap-${dead.pid}-${dead.startTime}-bb01`);
    for (const s of freed) {
      expect(isRunning(s.proc.pid, s.proc.startTime), s.id).toBe(false);
      expect(existsSync(s.path), s.path).toBe(false);
    }
    for (const s of kept) {
      expect(isRunning(s.proc.pid, s.proc.startTime), s.id).toBe(true);
      expect(existsSync(s.path), s.path).toBe(true);
    }
    expect(existsSync(leasedDir)).toBe(true);
    expect(existsSync(expiredDir)).toBe(false);
    expect(isRunning(liveOwner.pid, liveOwner.startTime), 'the reaper never kills an owner').toBe(true);
    expect(
      store.ledger
        .list()
        .map((r) => r.id)
        .sort(),
    ).toEqual(kept.map((s) => s.id).sort());
    // The rows of what was freed are gone; a live lease's row is untouched, still its owner's.
    expect((await store.sandboxes.listSandboxes()).map((r) => [r.id, r.ownerWorker]).sort()).toEqual(
      [
        [leasedDeadCreator.id, 'other-worker'],
        [own.id, 'other-worker'],
        [`bwrap-${dead.pid}-${dead.startTime}-bb01`, 'other-worker'],
      ].sort(),
    );
  });

  test('a store that cannot answer for a lease leaves the sandbox to a later pass', async () => {
    const path = join(dir, 'busy.db');
    const busy = await SqliteStore.open({ path, busyTimeoutMs: 20 });
    const locker = new Sqlite(path);
    try {
      const dead = { pid: spawnSync('true').pid ?? 0, startTime: '1' };
      const id = `bwrap-${dead.pid}-${dead.startTime}-cc01`;
      const work = join(dir, 'cc01-work');
      mkdirSync(work);
      busy.ledger.put({
        ...newSandboxRecord(id, 'bwrap', { paths: [work] }),
        ownerPid: dead.pid,
        ownerStartTime: '1',
      });
      await busy.sandboxes.insertSandbox(row(id, Date.now() - 1));
      const leases = reaperLeases(busy.sandboxes, { workerId: 'reaper-worker' });
      const paths = { ...hearthPaths(), run: join(dir, 'run-busy') };
      // Another writer holds the database: claiming the passed lease fails with SQLITE_BUSY.
      locker.exec('begin immediate');
      await expect(leases.claimIfExpired(id)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      const first = await reapOrphans(busy.ledger, { paths, leases });
      expect(first.reaped).not.toContain(id);
      expect(existsSync(work)).toBe(true);
      locker.exec('rollback');
      const second = await reapOrphans(busy.ledger, { paths, leases });
      expect(second.reaped).toContain(id);
      expect(existsSync(work)).toBe(false);
      expect(await busy.sandboxes.getSandbox(id)).toBeUndefined();
      expect(busy.ledger.list()).toEqual([]);
    } finally {
      locker.close();
      await busy.close();
    }
  });
});
