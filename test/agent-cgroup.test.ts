/**
 * The agent's cgroup v2 limits, where they apply: as root in its own kernel, inside a hearth
 * microVM. Skips with the probe's reason only when QEMU cannot run here at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox, SandboxBackend } from '../src/backends/backend.js';
import { createQemuBackend } from '../src/backends/qemu/qemu-backend.js';
import { MemoryLedger } from '../src/host/ledger.js';

let backend: SandboxBackend | undefined;
let sandbox: Sandbox | undefined;
let skipReason = '';

beforeAll(async () => {
  backend = createQemuBackend({ ledger: new MemoryLedger(), poolSize: 0 });
  const probe = await backend.probe();
  if (!probe.usable) {
    skipReason = probe.reason;
    return;
  }
  // QEMU is usable here (under KVM or TCG): a VM that does not start is a failure, not a skip.
  sandbox = await backend.create({ image: 'default', memoryMb: 512 });
}, 600_000);

afterAll(async () => {
  await sandbox?.destroy();
  await backend?.close?.();
});

describe('agent limits with cgroup v2 (inside a microVM)', () => {
  it('uses one cgroup per exec and removes it afterwards', async (ctx) => {
    if (!sandbox) return ctx.skip(skipReason);
    expect(sandbox.agent.info.limitMechanism).toBe('cgroup-v2');
    const r = await sandbox.agent.run({ shell: 'cat /proc/self/cgroup', limits: { memoryMb: 100 } });
    const own = /^0::\/hearth-exec\/(\S+)$/m.exec(r.stdout.toString())?.[1];
    expect(own).toBeTruthy();
    const after = await sandbox.agent.run({ argv: ['ls', '/sys/fs/cgroup/hearth-exec'] });
    expect(after.stdout.toString().split('\n')).not.toContain(own);
  });

  it('reports outOfMemory and the peak when the OOM killer stops an allocation loop', async (ctx) => {
    if (!sandbox) return ctx.skip(skipReason);
    const r = await sandbox.agent.run({
      argv: ['python3', '-c', 'a = []\nwhile True: a.append(b"x" * 1000000)'],
      limits: { memoryMb: 64, timeoutMs: 120_000 },
    });
    expect(r.outOfMemory).toBe(true);
    expect(r.signal).toBe('SIGKILL');
    expect(r.peakMemoryKb).toBeGreaterThan(32 * 1024);
    expect(r.peakMemoryKb).toBeLessThanOrEqual(64 * 1024);
  });

  it('caps processes with pids.max and CPU time with its watchdog', async (ctx) => {
    if (!sandbox) return ctx.skip(skipReason);
    const forks = await sandbox.agent.run({
      shell: 'for i in $(seq 40); do sleep 5 & done; wait',
      limits: { maxProcesses: 10, timeoutMs: 60_000 },
    });
    expect(forks.exitCode).not.toBe(0);
    expect(forks.stderr.toString()).toMatch(/fork/i);
    const spin = await sandbox.agent.run({
      shell: 'while :; do :; done',
      limits: { cpuTimeMs: 500, timeoutMs: 60_000 },
    });
    expect(spin.timedOut).toBe(true);
    expect(spin.cpuTimeMs).toBeGreaterThanOrEqual(500);
  });
});
