import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Job } from '../src/jobs/types.js';
import { Hearth } from '../src/sdk/client.js';
import { settledLeftovers } from './leak-check.js';
import { startServe } from './serve-fixture.js';

/** Host processes whose command line names a sandbox of the owner `pid` (sandbox ids embed it). */
function sandboxProcesses(ownerPid: number): number[] {
  const mark = `bwrap-${ownerPid}-`;
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(mark);
      } catch {
        return false;
      }
    })
    .map(Number);
}

function leftovers(ownerPid: number): string[] {
  const mark = `bwrap-${ownerPid}-`;
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(mark));
  const cgroups = ['memory', 'pids', 'cpuacct', 'unified']
    .map((c) => `/sys/fs/cgroup/${c}/hearth`)
    .filter((d) => existsSync(d))
    .flatMap((d) =>
      readdirSync(d)
        .filter((n) => n.startsWith(mark))
        .map((n) => `${d}/${n}`),
    );
  return [...mounts, ...cgroups];
}

describe('crash recovery: SIGKILL the server with jobs queued and running', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-crash-'));
  const env = {
    HEARTH_DB: join(dir, 'hearth.db'),
    HEARTH_RUN_DIR: join(dir, 'run'),
    HEARTH_BACKEND: 'bwrap',
    HEARTH_CONCURRENCY: '2',
  };
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        await exited;
      }
    }
    const owners = children.flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
    const left = await settledLeftovers({ ownerPids: [process.pid, ...owners], runDir: env.HEARTH_RUN_DIR });
    rmSync(dir, { recursive: true, force: true });
    expect(left).toEqual([]);
  });

  it('finishes, fails (INTERRUPTED) or re-runs every job, and leaves no orphaned sandbox', async () => {
    const first = await startServe(env);
    children.push(first.child);
    const firstPid = first.child.pid as number;
    const sdk1 = new Hearth({ baseUrl: first.url });
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const code = i % 4 === 0 ? 'import time\ntime.sleep(60)' : `print(${i})`;
      ids.push((await sdk1.jobs.create({ language: 'python', code })).id);
    }
    // Wait until a sleeping job runs in a live sandbox, then kill the server without warning.
    for (let i = 0; i < 200 && sandboxProcesses(firstPid).length === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(sandboxProcesses(firstPid).length).toBeGreaterThan(0);
    const killed = new Promise((r) => first.child.once('exit', r));
    first.child.kill('SIGKILL');
    await killed;

    const second = await startServe(env);
    children.push(second.child);
    const sdk2 = new Hearth({ baseUrl: second.url });
    // Recovery ran before the server listened: the dead owner's sandboxes are gone.
    expect(sandboxProcesses(firstPid)).toEqual([]);
    expect(leftovers(firstPid)).toEqual([]);

    const final: Job[] = [];
    for (const id of ids) final.push(await sdk2.jobs.wait(id));
    expect(final).toHaveLength(20);
    for (const [i, job] of final.entries()) {
      const sleeper = i % 4 === 0;
      if (job.status === 'error') {
        expect(job.error?.code).toBe('INTERRUPTED');
        expect(job.error?.hint).toMatch(/submit it again/i);
      } else {
        expect(job.status).toBe('completed');
        if (!sleeper) expect(job.result?.stdout).toBe(`${i}\n`);
      }
    }
    // At least one job was running at the kill, so at least one is INTERRUPTED.
    expect(final.some((j) => j.error?.code === 'INTERRUPTED')).toBe(true);
    const list = await sdk2.jobs.list({ limit: 100 });
    expect(new Set(list.jobs.map((j) => j.id))).toEqual(new Set(ids));
    // Sleepers re-queued by the second server still run; cancel them so shutdown is quick.
    for (const j of final) if (j.status === 'running' || j.status === 'queued') await sdk2.jobs.cancel(j.id);
    const stopped = new Promise<number | null>((r) => second.child.once('exit', (c) => r(c)));
    second.child.kill('SIGTERM');
    expect(await stopped).toBe(0);
  }, 240_000);
});
