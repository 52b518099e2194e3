/**
 * Many sequential VM jobs (pool checkout → python3 -c → destroy), then nothing of them is left:
 * no QEMU process, no run dir or socket, no ledger record.
 * HEARTH_QEMU_LIFECYCLE_JOBS sets the count. @default 200
 */
import { afterAll, describe, expect, test } from 'vitest';
import { ourQemuPids, ourRunDirs, qemuFixture } from './qemu-fixture.js';

const JOBS = Number(process.env.HEARTH_QEMU_LIFECYCLE_JOBS ?? 200);
const { backend, ledger } = qemuFixture({ poolSize: 1 });
const probe = await backend.probe();

afterAll(() => backend.close());

describe.skipIf(!probe.usable)(`qemu lifecycle (${probe.reason})`, () => {
  test(`${JOBS} sequential VM jobs leave no process, socket, temp dir or record behind`, async () => {
    const spec = { image: 'default', memoryMb: 256 };
    await backend.create(spec).then((sb) => sb.destroy()); // template + pool warm
    const ids = new Set<string>();
    for (let i = 0; i < JOBS; i++) {
      const sb = await backend.create({ ...spec, labels: { job: String(i) } });
      expect(ids.has(sb.id)).toBe(false);
      ids.add(sb.id);
      try {
        const r = await sb.agent.run({ argv: ['python3', '-c', `print(${i}*2)`] });
        expect(r.exitCode).toBe(0);
        expect(r.stdout.toString()).toBe(`${i * 2}\n`);
      } finally {
        await sb.destroy();
      }
    }
    await backend.close();
    expect(ourQemuPids()).toEqual([]);
    expect(ourRunDirs()).toEqual([]);
    expect(ledger.list()).toEqual([]);
  }, 3_600_000);
});
