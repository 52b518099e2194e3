import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { mountsUnder } from '../../src/host/reaper.js';
import { isRunning } from '../../src/host/sandbox-id.js';
import type { ConformanceContext } from './cases.js';

/** Host processes whose command line or environment names `needle`. */
export function hostProcessesNaming(needle: string): number[] {
  const found: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'latin1');
      const env = readFileSync(`/proc/${e}/environ`, 'latin1');
      if (cmd.includes(needle) || env.includes(needle)) found.push(Number(e));
    } catch {}
  }
  return found;
}

/** Creation and destruction: the ledger knows the sandbox while it lives; after destroy nothing is left. */
export function defineLifecycleCases({ backend, ledger, spec }: ConformanceContext): void {
  describe('lifecycle', () => {
    test('after destroy() nothing is left: processes, mounts, temp dirs, cgroups, ledger record', async () => {
      const sandbox = await backend.create(spec);
      const record = ledger.list().find((r) => r.id === sandbox.id);
      try {
        expect(record).toBeDefined();
        expect(sandbox.agent.info.protocolVersion).toBe(1);
        const bg = await sandbox.agent.run({
          argv: ['sh', '-c', 'setsid sleep 4545 >/dev/null 2>&1 & echo started'],
        });
        expect(bg.stdout.toString()).toBe('started\n');
      } finally {
        await sandbox.destroy();
      }
      await sandbox.destroy(); // idempotent
      expect(ledger.list().find((r) => r.id === sandbox.id)).toBeUndefined();
      if (!record) return;
      for (const { pid, startTime } of record.pids)
        expect(isRunning(pid, startTime), `pid ${pid} still runs`).toBe(false);
      for (const cg of record.cgroups) expect(existsSync(cg), cg).toBe(false);
      for (const p of record.paths) expect(existsSync(p), p).toBe(false);
      for (const m of record.mounts) expect(mountsUnder(m), m).toEqual([]);
      expect(hostProcessesNaming(sandbox.id)).toEqual([]);
    });

    test('a failed creation (unknown image, bad size) leaves nothing and says why', async () => {
      const before = ledger.list().length;
      await expect(backend.create({ ...spec, image: 'no-such-image' })).rejects.toMatchObject({
        code: 'UNKNOWN_IMAGE',
      });
      await expect(backend.create({ ...spec, memoryMb: -1 })).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });
      expect(ledger.list().length).toBe(before);
    });
  });
}
