/**
 * One RLM run in a QEMU microVM session (TCG here, so one case, kept small): SNAPSHOT takes a
 * memory snapshot, and ROLLBACK brings the REPL's variables back, not only its files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/registry.js';
import { MemoryLedger } from '../src/host/ledger.js';
import { settledLeftovers } from './leak-check.js';
import { openRlm, py } from './rlm-fixture.js';

const probe = await (await loadBackend('qemu', { ledger: new MemoryLedger() })).probe();
let rlm: Awaited<ReturnType<typeof openRlm>> | undefined;

beforeAll(async () => {
  if (probe.usable) rlm = await openRlm('qemu');
});
afterAll(async () => {
  await rlm?.close();
  expect(await settledLeftovers({ settleMs: 5000 })).toEqual([]);
});

describe.skipIf(!probe.usable)(`rlm on qemu${probe.usable ? '' : ` — skipped: ${probe.reason}`}`, () => {
  it('ROLLBACK restores the REPL variables from a memory snapshot', async () => {
    const { run } = await (rlm as NonNullable<typeof rlm>).runner({
      root: [
        `${py('x = len(context)\nprint(x)')}\nSNAPSHOT(s1)`,
        py('x = -1\nprint(x)'),
        `ROLLBACK(s1)\n${py('print(x)')}`,
        'FINAL_VAR(x)',
      ],
    });
    const r = await run('rollback', { context: 'abcde', budgets: { maxSeconds: 900 } });
    expect(r.steps[0]?.output).toContain('[snapshot s1 saved (memory)]');
    expect(r.steps[1]?.output.trim()).toBe('-1');
    expect(r.steps[2]?.output).toContain('[rolled back to s1]\n5');
    expect(r.stopReason).toBe('final');
    expect(r.answer).toBe('5');
    expect(await rlm?.openSessions()).toEqual([]);
  }, 900_000);
});
