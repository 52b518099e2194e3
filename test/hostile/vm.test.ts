/**
 * Hostile programs against the gVisor and QEMU sandboxes: memory split across processes, fork
 * loops, a console flood, and an owner that dies of SIGKILL. After each: the host still answers,
 * the result is honest, and nothing is left (test/leak-check.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { Sandbox, SandboxBackend } from '../../src/backends/backend.js';
import { createGvisorBackend } from '../../src/backends/gvisor/gvisor-backend.js';
import { SENTRY_OVERHEAD_MB } from '../../src/backends/gvisor/gvisor-limits.js';
import type { QemuSandbox } from '../../src/backends/qemu/qemu-sandbox.js';
import { hearthPaths, projectRoot } from '../../src/config/paths.js';
import { MemoryLedger } from '../../src/host/ledger.js';
import { reapOrphans } from '../../src/host/reaper.js';
import type { Job } from '../../src/jobs/types.js';
import { startServer } from '../../src/server/start.js';
import { leftovers, settledLeftovers } from '../leak-check.js';
import { qemuFixture } from '../qemu-fixture.js';

/** 8 processes that each touch 200 MB, then sleep: 1.6 GB if limits were per process. */
const EIGHT_BY_200 = `
import os, time
kids = []
for i in range(8):
    p = os.fork()
    if p == 0:
        b = bytearray(200 << 20)
        for j in range(0, len(b), 4096): b[j] = 1
        time.sleep(5)
        os._exit(0)
    kids.append(p)
print([os.waitpid(p, 0)[1] for p in kids])
`;

/** Forks children that sleep until fork fails; prints how many it started. */
const FORK_LOOP = `
import os, time
n = 0
try:
    while n < 10000:
        if os.fork() == 0:
            time.sleep(4)
            os._exit(0)
        n += 1
except OSError:
    pass
print(n, flush=True)
time.sleep(1)
`;

/** The sandbox's host memory cgroup peak, in MiB (v1 max_usage or v2 peak). */
function hostPeakMb(ledger: MemoryLedger, id: string): number {
  const dirs = ledger.list().find((r) => r.id === id)?.cgroups ?? [];
  for (const d of dirs) {
    for (const f of ['memory.max_usage_in_bytes', 'memory.peak']) {
      if (existsSync(join(d, f))) return Number(readFileSync(join(d, f), 'utf8')) / 2 ** 20;
    }
  }
  throw new Error(`no memory cgroup recorded for ${id}`);
}

/**
 * Starts test/hostile/sandbox-owner.ts (a hearth process that creates one sandbox), SIGKILLs it once
 * the sandbox answers, and returns the sandbox processes still there `settleMs` later.
 */
async function killOwner(
  backend: 'qemu' | 'gvisor',
  settleMs: number,
): Promise<{ before: string[]; after: string[] }> {
  const script = join(projectRoot(), 'test/hostile/sandbox-owner.ts');
  const owner: ChildProcess = spawn(process.execPath, ['--import', 'tsx', script, backend], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: projectRoot(),
  });
  const ownerPid = owner.pid as number;
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: owner.stdout as NodeJS.ReadableStream }).once('line', resolve);
      owner.once('exit', (code) =>
        reject(new Error(`the owner exited (${code}) before its sandbox answered`)),
      );
    });
    expect(JSON.parse(line).id).toMatch(new RegExp(`^${backend}-${ownerPid}-`));
    const procs = () => leftovers({ ownerPids: [ownerPid] }).filter((l) => l.startsWith('process '));
    const before = procs();
    owner.kill('SIGKILL');
    const deadline = performance.now() + settleMs;
    let after = procs();
    while (after.length && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      after = procs();
    }
    return { before, after };
  } finally {
    owner.kill('SIGKILL');
    // Files and cgroups of a dead owner are the reaper's (the next start's) to free.
    await reapOrphans(new MemoryLedger());
    expect(await settledLeftovers({ ownerPids: [ownerPid] })).toEqual([]);
  }
}

async function usable(b: SandboxBackend): Promise<{ ok: boolean; reason: string }> {
  const p = await b.probe();
  return { ok: p.usable, reason: p.reason };
}

const gvLedger = new MemoryLedger();
const gvisor = createGvisorBackend({ ledger: gvLedger });
const gv = await usable(gvisor);

describe.skipIf(!gv.ok)(`gvisor hostile (${gv.reason})`, () => {
  afterEach(async () => {
    expect(await settledLeftovers()).toEqual([]);
  });

  test('8 × 200 MB under a 256 MB exec limit: outOfMemory, and the host cgroup never passed the limit', async () => {
    // A sandbox made for larger jobs (as the job pool makes them) still holds each exec to its own limit.
    const sb = await gvisor.create({ image: 'default', memoryMb: 1024, maxProcesses: 64 });
    try {
      const r = await sb.agent.run({
        argv: ['python3', '-c', EIGHT_BY_200],
        limits: { memoryMb: 256, timeoutMs: 60_000 },
      });
      expect(r.outOfMemory).toBe(true);
      expect(r.exitCode).not.toBe(0);
      // The kernel may charge a page past the limit before it reclaims or kills.
      expect(hostPeakMb(gvLedger, sb.id)).toBeLessThanOrEqual(256 + SENTRY_OVERHEAD_MB + 1);
    } finally {
      await sb.destroy();
    }
    // The backend still serves.
    const next = await gvisor.create({ image: 'default', memoryMb: 256 });
    try {
      expect((await next.agent.run({ argv: ['python3', '-c', 'print(6*7)'] })).stdout.toString()).toBe(
        '42\n',
      );
    } finally {
      await next.destroy();
    }
  }, 120_000);

  test('through the server: the job reports outOfMemory, and the server answers the next job', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-vm-hostile-'));
    const server = await startServer({
      port: 0,
      paths: { ...hearthPaths(), db: join(dir, 'hearth.db') },
      logger: false,
      shutdownGraceMs: 0,
    });
    try {
      const submit = async (code: string, limits?: Record<string, number>) => {
        const res = await fetch(`${server.url}/v1/jobs?wait=true`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            language: 'python',
            code,
            backend: 'gvisor',
            ...(limits ? { limits } : {}),
          }),
        });
        return (await res.json()) as Job;
      };
      const oom = await submit(EIGHT_BY_200, { memoryMb: 256 });
      expect(oom.status).toBe('completed');
      expect(oom.result?.outOfMemory).toBe(true);
      const next = await submit('print(6*7)');
      expect(next.result?.stdout).toBe('42\n');
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  test('a fork loop is bounded, the agent answers meanwhile, and its own tasks leave the user the whole budget', async () => {
    const sb = await gvisor.create({ image: 'default', memoryMb: 256, maxProcesses: 20 });
    try {
      const run = sb.agent.run({
        argv: ['python3', '-c', FORK_LOOP],
        limits: { maxProcesses: 20, timeoutMs: 60_000 },
      });
      expect(await sb.agent.ping()).toBeGreaterThanOrEqual(0);
      const r = await run;
      const started = Number(r.stdout.toString().trim());
      // python itself is one of the 20; the agent's Node threads and exec server are not.
      expect(started).toBeGreaterThanOrEqual(19);
      expect(started).toBeLessThan(64);
      expect((await sb.agent.run({ argv: ['true'] })).exitCode).toBe(0);
    } finally {
      await sb.destroy();
    }
  }, 120_000);

  test('an owner killed with SIGKILL takes its gVisor sandbox with it', async () => {
    const { before, after } = await killOwner('gvisor', 5_000);
    expect(before.length).toBeGreaterThan(0);
    expect(after).toEqual([]);
  }, 120_000);
});

const q = qemuFixture({ poolSize: 0 });
const qp = await usable(q.backend);
const VM_SPEC = { image: 'default', memoryMb: 256, maxProcesses: 64 };

describe.skipIf(!qp.ok)(`qemu hostile (${qp.reason})`, () => {
  beforeAll(async () => {
    // The template (a cold boot under TCG) is built here, within the hook's budget.
    await q.backend.poolReady(VM_SPEC.image, VM_SPEC);
  }, 600_000);
  afterAll(async () => {
    await q.backend.close();
  });
  afterEach(async () => {
    expect(await settledLeftovers()).toEqual([]);
  });

  test('QEMU runs under seccomp as an unprivileged uid; a program cannot flood the console, whose tail stays bounded', async () => {
    const sb = (await q.backend.create(VM_SPEC)) as Sandbox as QemuSandbox;
    try {
      const status = readFileSync(`/proc/${sb.vm.pid}/status`, 'utf8');
      expect(status).toMatch(/^Seccomp:\s+2$/m);
      if (sb.vm.user.uid !== undefined) {
        expect(sb.vm.user.uid).not.toBe(0);
        expect(status).toMatch(new RegExp(`^Uid:\\s+${sb.vm.user.uid}\\s+${sb.vm.user.uid}\\s`, 'm'));
      } else {
        // Where the host does not allow it, the reason is kept (and printed here).
        expect(sb.vm.user.reason).toMatch(/QEMU runs as/);
        console.warn(`qemu: ${sb.vm.user.reason}`);
      }
      // Programs run as uid 1000: the console (root's) is out of their reach, so they cannot flood it.
      const flood = await sb.agent.run({
        argv: ['sh', '-c', 'timeout 4 sh -c "yes flood-line-0123456789abcdef > /dev/ttyS0"; echo done'],
        limits: { timeoutMs: 60_000 },
      });
      expect(flood.stdout.toString()).toBe('done\n');
      expect(flood.stderr.toString()).toMatch(/ttyS0: Permission denied/);
      const tail = sb.vm.consoleTail();
      expect(tail).not.toContain('flood-line-0123456789abcdef');
      expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(16 * 1024);
      // Nothing in the VM's directory grew: sockets only, no console file.
      const bytes = readdirSync(sb.vm.dir).reduce((a, f) => a + statSync(join(sb.vm.dir, f)).size, 0);
      expect(bytes).toBeLessThan(64 * 1024);
      expect((await sb.agent.run({ argv: ['echo', 'still here'] })).stdout.toString()).toBe('still here\n');
    } finally {
      await sb.destroy();
    }
  }, 300_000);

  test("memory split across processes inside a VM ends in outOfMemory; the agent's tasks are outside the pids budget", async () => {
    const sb = await q.backend.create(VM_SPEC);
    try {
      const split = `
import os, time
kids = []
for i in range(4):
    p = os.fork()
    if p == 0:
        b = bytearray(60 << 20)
        for j in range(0, len(b), 4096): b[j] = 1
        time.sleep(5)
        os._exit(0)
    kids.append(p)
print([os.waitpid(p, 0)[1] for p in kids])
`;
      const r = await sb.agent.run({
        argv: ['python3', '-c', split],
        limits: { memoryMb: 128, timeoutMs: 120_000 },
      });
      expect(r.outOfMemory).toBe(true);
      const forks = await sb.agent.run({
        argv: ['python3', '-c', FORK_LOOP],
        limits: { maxProcesses: 8, timeoutMs: 120_000 },
      });
      // The exec's group holds its shim and python; the agent is not in it.
      const started = Number(forks.stdout.toString().trim());
      expect(started).toBeGreaterThanOrEqual(6);
      expect(started).toBeLessThanOrEqual(7);
      expect(await sb.agent.ping()).toBeGreaterThanOrEqual(0);
    } finally {
      await sb.destroy();
    }
  }, 300_000);

  test('an owner killed with SIGKILL takes its QEMU with it', async () => {
    const { before, after } = await killOwner('qemu', 5_000);
    expect(before.some((l) => l.includes('qemu-system'))).toBe(true);
    expect(after).toEqual([]);
  }, 300_000);
});
