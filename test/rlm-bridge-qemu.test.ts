/**
 * The sandbox bridge in a QEMU microVM session (TCG here, so one case): llm_query and
 * llm_query_batched from the Python context, run as the VM's program user, reach the session's
 * handler over the virtio-serial channel, and still do after a memory snapshot is restored (a new
 * connection to the restored VM, the interpreter's variables kept). The handler is the test's own
 * function standing in for a model.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/registry.js';
import { hearthPaths } from '../src/config/paths.js';
import { MemoryLedger } from '../src/host/ledger.js';
import { settledLeftovers } from './leak-check.js';
import { openSessionService } from './session-service-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-rlm-bridge-qemu-'));
const paths = { ...hearthPaths(), db: join(dir, 'hearth.db'), snapshots: join(dir, 'snapshots') };
const probe = await (await loadBackend('qemu', { ledger: new MemoryLedger() })).probe();

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  expect(await settledLeftovers({ settleMs: 5000 })).toEqual([]);
});

describe.skipIf(!probe.usable)(
  `the sandbox bridge on qemu${probe.usable ? '' : ` — skipped: ${probe.reason}`}`,
  () => {
    it('answers calls from the VM, before and after a memory snapshot is restored', async () => {
      const svc = await openSessionService(paths, 'qemu');
      try {
        const s = await svc.sessions.createSession({ image: 'default' });
        const seen: string[] = [];
        svc.sessions.setGuestCallHandler(s.id, async (call) => {
          seen.push(call.method);
          return call.method === 'llm_query_batched' ? call.prompts.map((p) => `vm:${p}`) : 'vm';
        });
        const first = await svc.sessions.runCode(s.id, {
          code: 'kept = llm_query("a") + "|" + ",".join(llm_query_batched(["b", "c"])); kept',
        });
        expect(first.error).toBeNull();
        expect(first.result?.text).toBe("'vm|vm:b,vm:c'");
        const snap = await svc.sessions.createSnapshot(s.id, { name: 'before' });
        expect(snap.kind).toBe('memory');
        await svc.sessions.runCode(s.id, { code: 'kept = "changed"' });
        await svc.sessions.restoreSnapshot(s.id, snap.id);
        const after = await svc.sessions.runCode(s.id, { code: 'kept + "/" + llm_query("d")' });
        expect(after.error).toBeNull();
        expect(after.result?.text).toBe("'vm|vm:b,vm:c/vm'");
        expect(seen).toEqual(['llm_query', 'llm_query_batched', 'llm_query']);
        await svc.sessions.deleteSession(s.id);
      } finally {
        await svc.close();
      }
    }, 600_000);
  },
);
