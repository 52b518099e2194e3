/** VM-only behaviour of the qemu backend: guest memory limits, clones that do not share state. */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Sandbox } from '../src/backends/backend.js';
import { ourQemuPids, ourRunDirs, qemuFixture } from './qemu-fixture.js';

const { backend, ledger } = qemuFixture({ poolSize: 1 });
const probe = await backend.probe();
const spec = { image: 'default', memoryMb: 256 };
const live: Sandbox[] = [];

afterAll(async () => {
  await Promise.all(live.map((s) => s.destroy()));
  await backend.close();
});

describe.skipIf(!probe.usable)(`qemu VM behaviour (${probe.reason})`, () => {
  beforeAll(async () => {
    const sb = await backend.create(spec);
    live.push(sb);
  }, 600_000);

  test('memory past the limit ends in a clear out-of-memory result, the VM keeps serving', async () => {
    const sb = live[0] as Sandbox;
    const r = await sb.agent.run({
      argv: ['python3', '-c', 'a=[]\nwhile True: a.append(bytearray(8<<20))'],
      limits: { memoryMb: 96, timeoutMs: 120_000 },
    });
    expect(r.outOfMemory).toBe(true);
    expect(r.exitCode).not.toBe(0);
    const after = await sb.agent.run({ argv: ['python3', '-c', 'print(6*7)'] });
    expect(after.stdout.toString()).toBe('42\n');
  }, 180_000);

  test('two sandboxes restored from one template read different random bytes and the right date', async () => {
    const a = await backend.create(spec);
    live.push(a);
    const b = await backend.create(spec);
    live.push(b);
    expect(a.id).not.toBe(b.id);
    const read = async (sb: Sandbox) => {
      const dev = await sb.agent.run({ argv: ['od', '-An', '-tx1', '-N16', '/dev/urandom'] });
      const py = await sb.agent.run({
        argv: ['python3', '-c', 'import os,time; print(os.urandom(16).hex(), time.time())'],
      });
      const hostNow = Date.now() / 1000;
      const [hex, guestNow] = py.stdout.toString().trim().split(' ');
      return {
        dev: dev.stdout.toString().replace(/\s+/g, ''),
        py: hex,
        skewS: Math.abs(Number(guestNow) - hostNow),
      };
    };
    const ra = await read(a);
    const rb = await read(b);
    expect(ra.dev).toMatch(/^[0-9a-f]{32}$/);
    expect(ra.py).toMatch(/^[0-9a-f]{32}$/);
    expect(ra.dev).not.toBe(rb.dev);
    expect(ra.py).not.toBe(rb.py);
    expect(ra.skewS).toBeLessThan(2);
    expect(rb.skewS).toBeLessThan(2);
  }, 300_000);

  test('destroy frees the QEMU process, its sockets and its ledger record; twice is fine', async () => {
    await Promise.all(live.splice(0).map((s) => s.destroy()));
    const sb = await backend.create(spec);
    const pid = (sb as unknown as { vm: { pid: number } }).vm.pid;
    expect(ourQemuPids()).toContain(pid);
    await sb.destroy();
    await sb.destroy();
    expect(ourQemuPids()).not.toContain(pid);
    expect(ledger.list().map((r) => r.id)).not.toContain(sb.id);
    expect(ourRunDirs()).not.toContain(sb.id);
  }, 300_000);
});
