/**
 * The backend conformance suite on qemu (TCG where KVM does not boot), plus what only a VM does:
 * the guest's memory limit ends in a clear out-of-memory result, and clones of one template do
 * not share their random state or a stale clock.
 */
import { beforeAll, describe, expect } from 'vitest';
import type { Sandbox } from '../../src/backends/backend.js';
import type { QemuBackend } from '../../src/backends/qemu/qemu-backend.js';
import { type ConformanceContext, defineBackendConformance } from './cases.js';

/** 16 bytes from /dev/urandom and from os.urandom, and how far the guest's clock is from the host's. */
async function entropyAndClock(sb: Sandbox): Promise<{ dev: string; py: string; skewS: number }> {
  const dev = await sb.agent.run({ argv: ['od', '-An', '-tx1', '-N16', '/dev/urandom'] });
  const py = await sb.agent.run({
    argv: ['python3', '-c', 'import os,time; print(os.urandom(16).hex(), time.time())'],
  });
  const hostNow = Date.now() / 1000;
  const [hex = '', guestNow] = py.stdout.toString().trim().split(' ');
  return {
    dev: dev.stdout.toString().replace(/\s+/g, ''),
    py: hex,
    skewS: Math.abs(Number(guestNow) - hostNow),
  };
}

function vmCases({ sandboxTest: test, backend, spec }: ConformanceContext): void {
  // Registered on the suite's own describe, so it runs before every case: the template for the
  // fixture's shape is built (a cold boot under TCG) within the hook's budget, not a test's.
  beforeAll(async () => {
    await (backend as QemuBackend).poolReady(spec.image, spec);
  }, 600_000);

  describe('microVM', () => {
    test('memory past the exec limit ends in a clear out-of-memory result; the VM keeps serving', async ({
      sandbox,
    }) => {
      const r = await sandbox.agent.run({
        argv: ['python3', '-c', 'a=[]\nwhile True: a.append(bytearray(8<<20))'],
        limits: { memoryMb: 96, timeoutMs: 120_000 },
      });
      expect(r.outOfMemory).toBe(true);
      expect(r.exitCode).not.toBe(0);
      const after = await sandbox.agent.run({ argv: ['python3', '-c', 'print(6*7)'] });
      expect(after.stdout.toString()).toBe('42\n');
    }, 180_000);

    test('two sandboxes restored from one template read different random bytes and the right date', async () => {
      const a = await backend.create(spec);
      try {
        const b = await backend.create(spec);
        try {
          expect(a.id).not.toBe(b.id);
          const ra = await entropyAndClock(a);
          const rb = await entropyAndClock(b);
          expect(ra.dev).toMatch(/^[0-9a-f]{32}$/);
          expect(ra.py).toMatch(/^[0-9a-f]{32}$/);
          expect(ra.dev).not.toBe(rb.dev);
          expect(ra.py).not.toBe(rb.py);
          expect(ra.skewS).toBeLessThan(2);
          expect(rb.skewS).toBeLessThan(2);
        } finally {
          await b.destroy();
        }
      } finally {
        await a.destroy();
      }
    }, 300_000);
  });
}

await defineBackendConformance('qemu', { extraCases: vmCases });
