/**
 * The manager's sandbox pool on real bwrap sandboxes: a sandbox it refills runs the warm-up
 * command before it is handed out (so the agent's exec server is already up), one created on
 * demand does not, and nothing is left once the pool is closed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox, SandboxBackend } from '../src/backends/backend.js';
import { loadBackend } from '../src/backends/registry.js';
import { MemoryLedger } from '../src/host/ledger.js';
import { SandboxPool } from '../src/sandboxes/pool.js';
import { settledLeftovers } from './leak-check.js';

let backend: SandboxBackend | undefined;
let skip: string | undefined;

beforeAll(async () => {
  const b = await loadBackend('bwrap', { ledger: new MemoryLedger() });
  const probe = await b.probe();
  if (probe.usable) backend = b;
  else skip = probe.reason;
});

afterAll(async () => {
  await backend?.close?.();
  expect(await settledLeftovers({ settleMs: 3000 })).toEqual([]);
});

async function refilled(pool: SandboxPool): Promise<void> {
  for (let waitedMs = 0; pool.readyCount < 1; waitedMs += 10) {
    if (waitedMs > 30_000) throw new Error('the pool did not refill within 30 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const marker = async (sb: Sandbox): Promise<string> =>
  (await sb.agent.run({ argv: ['sh', '-c', 'cat /tmp/warmed 2>/dev/null || echo cold'] })).stdout.toString();

describe('sandbox pool on bwrap', () => {
  it('runs the warm-up command in each refilled sandbox before handing it out', async (ctx) => {
    if (!backend) return ctx.skip(skip);
    const pool = new SandboxPool({
      size: 1,
      spec: { memoryMb: 256 },
      warmArgv: ['sh', '-c', 'echo warm > /tmp/warmed'],
    });
    const taken: Sandbox[] = [];
    try {
      // The pool is empty at first: this one is made on demand, unwarmed, and starts the refill.
      taken.push(await pool.acquire(backend, 'default'));
      expect(await marker(taken[0] as Sandbox)).toBe('cold\n');
      await refilled(pool);
      taken.push(await pool.acquire(backend, 'default'));
      expect(await marker(taken[1] as Sandbox)).toBe('warm\n');
    } finally {
      await Promise.all(taken.map((s) => s.destroy()));
      await pool.close();
    }
    expect(pool.readyCount).toBe(0);
  });
});
