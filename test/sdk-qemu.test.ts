import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/registry.js';
import { MemoryLedger } from '../src/host/ledger.js';
import { Sandbox } from '../src/sdk/index.js';
import { type SessionServer, startSessionServer } from './session-server-fixture.js';

// The SDK's memory snapshots and pause/resume against a real server, on a qemu microVM.
const probe = await (await loadBackend('qemu', { ledger: new MemoryLedger() })).probe();

describe.skipIf(!probe.usable)(`SDK on qemu${probe.usable ? '' : ` — skipped: ${probe.reason}`}`, () => {
  let server: SessionServer;
  const conn = () => ({ baseUrl: server.url, token: server.token, requestTimeoutMs: 300_000 });

  beforeAll(async () => {
    server = await startSessionServer();
  });
  afterAll(async () => {
    expect(await server.close()).toEqual([]);
  });

  it('a memory snapshot keeps a variable; a paused sandbox resumes with it', async () => {
    const sbx = await Sandbox.create({ ...conn(), backend: 'qemu' });
    try {
      expect((await sbx.getInfo()).capabilities).toEqual(
        expect.arrayContaining(['memory-snapshots', 'pause']),
      );
      await sbx.runCode('x = 41');
      const snap = await sbx.snapshots.create({ name: 'x41' });
      expect(snap.kind).toBe('memory');
      await sbx.runCode('x += 1');
      await sbx.snapshots.restore(snap);
      expect((await sbx.runCode('x')).text).toBe('41');

      expect((await sbx.pause()).state).toBe('paused');
      expect(await sbx.isRunning()).toBe(false);
      const back = await Sandbox.resume(sbx.sandboxId, conn());
      expect(await back.isRunning()).toBe(true);
      expect((await back.runCode('x')).text).toBe('41');
    } finally {
      await sbx.kill();
    }
  }, 600_000);
});
