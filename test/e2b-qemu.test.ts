/**
 * Pause and resume through the published E2B SDKs on qemu, where a pause keeps the VM's memory:
 * an interpreter variable and a running process survive `pause()` and `Sandbox.connect()`. One VM,
 * under TCG here; the case skips with the probe's reason when QEMU cannot run.
 */
import { Sandbox } from '@e2b/code-interpreter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/registry.js';
import { MemoryLedger } from '../src/host/ledger.js';
import { startE2bServer } from './e2b-fixture.js';
import { settledLeftovers } from './leak-check.js';

const probe = await (await loadBackend('qemu', { ledger: new MemoryLedger() })).probe();

describe.skipIf(!probe.usable)(
  `E2B pause and resume on qemu${probe.usable ? '' : ` — skipped: ${probe.reason}`}`,
  () => {
    let e2b: Awaited<ReturnType<typeof startE2bServer>>;
    beforeAll(async () => {
      e2b = await startE2bServer({ backend: 'qemu' });
    }, 120_000);
    afterAll(async () => {
      await e2b?.close();
      expect(await settledLeftovers({ settleMs: 5000 })).toEqual([]);
    }, 60_000);

    it('pause() keeps memory: a variable and a background process are there after connect()', async () => {
      const sbx = await Sandbox.create('base', { timeoutMs: 600_000 });
      try {
        expect((await sbx.runCode('x = 41')).error).toBeUndefined();
        const bg = await sbx.commands.run('sleep 3000', { background: true });
        expect(await sbx.pause()).toBe(true);
        expect((await Sandbox.getInfo(sbx.sandboxId)).state).toBe('paused');
        expect(await sbx.pause()).toBe(false);
        const back = await Sandbox.connect(sbx.sandboxId);
        expect((await back.getInfo()).state).toBe('running');
        expect((await back.runCode('x + 1')).text).toBe('42');
        const ps = await back.commands.run(
          "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done",
        );
        expect(ps.stdout).toContain('sleep 3000');
        expect(bg.pid).toBeGreaterThan(0);
      } finally {
        await Sandbox.kill(sbx.sandboxId);
      }
    }, 900_000);
  },
);
