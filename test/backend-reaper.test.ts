/**
 * The reaper against real orphans: a child hearth process starts bwrap sandboxes (one with the
 * agent, one mid-runOnce with its host tmpfs mounted), records them in a file-backed ledger, and is
 * SIGKILLed; reapOrphans() then frees everything it left. Plus leftovers with no record at all.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hearthPaths, projectRoot } from '../src/config/paths.js';
import { detectCgroups } from '../src/host/cgroups.js';
import { newSandboxRecord, type SandboxLedger, type SandboxRecord } from '../src/host/ledger.js';
import { mountsUnder, reapOrphans } from '../src/host/reaper.js';
import { isRunning, processStartTime } from '../src/host/sandbox-id.js';
import { hostProcessesNaming } from './conformance/lifecycle-cases.js';

/** A SandboxLedger kept in a JSON file, so it outlives the process that wrote it (the owner script has a copy). */
class FileLedger implements SandboxLedger {
  constructor(readonly file: string) {}
  #read(): Record<string, SandboxRecord> {
    return existsSync(this.file) ? JSON.parse(readFileSync(this.file, 'utf8')) : {};
  }
  put(r: SandboxRecord): void {
    writeFileSync(this.file, JSON.stringify({ ...this.#read(), [r.id]: r }));
  }
  remove(id: string): void {
    const all = this.#read();
    delete all[id];
    writeFileSync(this.file, JSON.stringify(all));
  }
  list(): SandboxRecord[] {
    return Object.values(this.#read());
  }
}

const root = projectRoot();
const childScript = (ledgerFile: string) => `
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createBwrapBackend } from '${root}/src/backends/bwrap/bwrap-backend.ts';
class FileLedger {
  constructor(file) { this.file = file; }
  read() { return existsSync(this.file) ? JSON.parse(readFileSync(this.file, 'utf8')) : {}; }
  put(r) { writeFileSync(this.file, JSON.stringify({ ...this.read(), [r.id]: r })); }
  remove(id) { const all = this.read(); delete all[id]; writeFileSync(this.file, JSON.stringify(all)); }
  list() { return Object.values(this.read()); }
}
const ledger = new FileLedger(${JSON.stringify(ledgerFile)});
const backend = createBwrapBackend({ ledger });
const sb = await backend.create({ image: 'default' });
void sb.agent.run({ argv: ['sh', '-c', 'setsid sleep 4848 & sleep 4949'] }).catch(() => {});
void backend.runOnce({ image: 'default' }, { files: [], steps: [{ argv: ['sleep', '5050'] }, { argv: ['true'] }] }).catch(() => {});
for (;;) {
  const recs = ledger.list();
  if (recs.length === 2 && recs.every((r) => r.pids.length > 0)) break;
  await new Promise((r) => setTimeout(r, 50));
}
await new Promise((r) => setTimeout(r, 500));
process.stdout.write('ready\\n');
setInterval(() => {}, 1000);
`;

describe('reapOrphans', () => {
  let dir: string;
  let run: string;
  let child: ChildProcess | undefined;
  beforeAll(() => {
    dir = mkdtempSync('/var/tmp/hearth-reaper-test-');
    run = join(dir, 'run');
    mkdirSync(run);
    chmodSync(dir, 0o755);
  });
  afterAll(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    for (const m of mountsUnder(dir)) spawnSync('umount', ['-l', m]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('frees every sandbox of an owner that was SIGKILLed: processes, mounts, dirs, cgroups, records', async () => {
    const ledgerFile = join(dir, 'ledger.json');
    const script = join(dir, 'owner.mjs');
    writeFileSync(script, childScript(ledgerFile));
    const proc = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: root,
      env: { ...process.env, HEARTH_RUN_DIR: run },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      proc.stdout?.on('data', (c: Buffer) => c.toString().includes('ready') && resolve());
      proc.once('exit', (code) => reject(new Error(`owner exited early: ${code}`)));
    });
    const ledger = new FileLedger(ledgerFile);
    const records = ledger.list();
    expect(records.length).toBe(2);
    expect(
      records.some((r) => r.mounts.length === 1 && mountsUnder(r.mounts[0] ?? '/nonexistent').length === 1),
    ).toBe(true);
    for (const r of records) expect(hostProcessesNaming(r.id).length + r.pids.length).toBeGreaterThan(0);

    proc.kill('SIGKILL');
    await new Promise((resolve) => proc.once('exit', resolve));

    const { reaped } = await reapOrphans(ledger, { paths: { ...hearthPaths(), run } });
    // Every record of the dead owner is reaped; the sweep may also free older orphans of other dead owners.
    expect(reaped).toEqual(expect.arrayContaining(records.map((r) => r.id)));
    expect(ledger.list()).toEqual([]);
    for (const r of records) {
      for (const { pid, startTime } of r.pids) expect(isRunning(pid, startTime), `pid ${pid}`).toBe(false);
      for (const cg of r.cgroups) expect(existsSync(cg), cg).toBe(false);
      for (const m of r.mounts) expect(mountsUnder(m)).toEqual([]);
      for (const p of r.paths) expect(existsSync(p), p).toBe(false);
    }
    // The sandboxes' own processes (agent, sleeps) are gone too, not only the recorded shims.
    await new Promise((r) => setTimeout(r, 200));
    expect(execFileSync('ps', ['-eo', 'args']).toString()).not.toMatch(/sleep (4848|4949|5050)/);
  });

  test('sweeps leftovers named by a dead owner, never a live one', async () => {
    const dead = spawnSync('true').pid ?? 0;
    const deadDir = join(run, `bwrap-${dead}-0123456789`);
    const liveDir = join(run, `bwrap-${process.pid}-0123456789`);
    mkdirSync(join(deadDir, 'work'), { recursive: true });
    mkdirSync(liveDir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'hearth-test', join(deadDir, 'work')]);
    const v2 = detectCgroups().mode === 'v2';
    const cg = `/sys/fs/cgroup/${v2 ? '' : 'pids/'}hearth/bwrap-${dead}-0123456789`;
    mkdirSync(cg, { recursive: true });
    const ledger = new FileLedger(join(dir, 'empty.json'));
    ledger.put({
      id: 'bwrap-live',
      backend: 'bwrap',
      ownerPid: process.pid,
      pids: [],
      paths: [liveDir],
      mounts: [],
      cgroups: [],
      labels: {},
      createdAt: new Date().toISOString(),
    });
    const { reaped } = await reapOrphans(ledger, { paths: { ...hearthPaths(), run } });
    expect(reaped).toContain(`bwrap-${dead}-0123456789`);
    expect(reaped).not.toContain('bwrap-live');
    expect(existsSync(deadDir)).toBe(false);
    expect(existsSync(cg)).toBe(false);
    expect(existsSync(liveDir)).toBe(true);
    expect(ledger.list().map((r) => r.id)).toEqual(['bwrap-live']);
  });

  test('an owner is known by pid and start time: a live Node process that reused the pid does not keep its sandboxes', async () => {
    // A real live Node process stands for the process that reused a dead owner's pid.
    const reuser = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      const pid = reuser.pid ?? 0;
      for (let i = 0; i < 100 && !processStartTime(pid); i++) await new Promise((r) => setTimeout(r, 10));
      const start = processStartTime(pid) ?? '';
      const before = String(Number(start) - 1); // the dead owner started earlier, with the same pid
      const ledger = new FileLedger(join(dir, 'reused.json'));
      const reusedDir = join(run, `bwrap-${pid}-${before}-00000000aa`);
      const ownDir = join(run, `bwrap-${pid}-${start}-00000000bb`);
      const record = (id: string, ownerStartTime: string, path: string): SandboxRecord => ({
        ...newSandboxRecord(id, 'bwrap', { paths: [path] }),
        ownerPid: pid,
        ownerStartTime,
      });
      for (const d of [reusedDir, ownDir, `${reusedDir}-rec`, `${ownDir}-rec`])
        mkdirSync(d, { recursive: true });
      ledger.put(record('bwrap-reused', before, `${reusedDir}-rec`));
      ledger.put(record('bwrap-owned', start, `${ownDir}-rec`));

      const { reaped } = await reapOrphans(ledger, { paths: { ...hearthPaths(), run } });
      expect(reaped).toEqual(expect.arrayContaining(['bwrap-reused', `bwrap-${pid}-${before}-00000000aa`]));
      expect(reaped).not.toContain('bwrap-owned');
      expect(reaped).not.toContain(`bwrap-${pid}-${start}-00000000bb`);
      expect(ledger.list().map((r) => r.id)).toEqual(['bwrap-owned']);
      expect(existsSync(`${reusedDir}-rec`)).toBe(false);
      expect(existsSync(reusedDir)).toBe(false);
      expect(existsSync(`${ownDir}-rec`)).toBe(true);
      expect(existsSync(ownDir)).toBe(true);
      expect(isRunning(pid, start), 'the reaper never kills an owner').toBe(true);
    } finally {
      reuser.kill('SIGKILL');
    }
  });
});
