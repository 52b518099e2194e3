/**
 * The sandbox bridge: `llm_query` from inside a session's Python context to a handler on the host
 * that answers at once, and back. Two figures per backend: the call as the code inside sees it
 * (timed with perf_counter in the sandbox, one run making many calls), and a repl-run whose code
 * makes one call, paired with its floor measured alternately in the same run: a repl-run of `1`,
 * the plain channel round trip.
 */
import { loadavg } from 'node:os';
import { ms, paired, pct, ratio, report, stats } from './lib.js';
import { type SessionHarness, sessionHarness } from './session-harness.js';

const G = 'rlm';
/** The bridge's target (issue 12): one round trip from inside the sandbox, p50. */
const TARGET_MS = 2;
type Name = 'bwrap' | 'qemu';
const N: Record<Name, { calls: number; runs: number }> = {
  bwrap: { calls: 500, runs: 100 },
  // TCG is slow: a few, after a warm-up.
  qemu: { calls: 60, runs: 10 },
};
const load = (): string => `load ${loadavg()[0]?.toFixed(1)}`;

/** Times `n` llm_query calls inside the sandbox; returns their durations in ms. */
async function inside(h: SessionHarness, id: string, n: number): Promise<number[]> {
  const code = [
    'import time as _t, json as _j',
    'llm_query("warm")',
    '_s = []',
    `for _i in range(${n}):`,
    '    _a = _t.perf_counter(); llm_query("x"); _s.append((_t.perf_counter() - _a) * 1000)',
    'print(_j.dumps(_s))',
  ].join('\n');
  const r = await h.service.runCode(id, { code, timeoutMs: 300_000 });
  if (r.error) throw new Error(`the timed run failed: ${r.error.name}: ${r.error.value}`);
  return JSON.parse(r.stdout) as number[];
}

async function benchBackend(name: Name): Promise<void> {
  let h: SessionHarness;
  try {
    h = await sessionHarness(name, name === 'qemu' ? { qemuPool: 0 } : {});
  } catch (err) {
    report({ group: G, name: `${name}: skipped`, value: err instanceof Error ? err.message : String(err) });
    return;
  }
  try {
    const s = await h.service.createSession({ backend: name, memoryMb: 512 });
    h.service.setGuestCallHandler(s.id, async () => 'y');
    const samples = stats(await inside(h, s.id, N[name].calls));
    report({
      group: G,
      name: `${name}: llm_query round trip, inside the sandbox`,
      value: pct(samples),
      ratio: load(),
      target: `≤ ${ms(TARGET_MS)}`,
      met: samples.p50 <= TARGET_MS,
    });
    const runOf = (code: string) => async () => {
      const r = await h.service.runCode(s.id, { code });
      if (r.error) throw new Error(`${code}: ${r.error.name}: ${r.error.value}`);
    };
    const [floor, call] = await paired(N[name].runs, runOf('1'), runOf('llm_query("x")'), 5);
    report({ group: G, name: `${name}: floor: repl-run of 1`, value: pct(floor) });
    report({
      group: G,
      name: `${name}: repl-run of llm_query("x")`,
      value: pct(call),
      ratio: `${ratio(call.p50, floor.p50, 'floor (repl-run of 1, paired)')}; +${ms(call.p50 - floor.p50)}`,
    });
  } finally {
    await h.close();
  }
}

export default async function rlmBridgeBench(): Promise<void> {
  // HEARTH_BENCH_BACKENDS=bwrap narrows the group, as for the sessions group.
  const only = process.env.HEARTH_BENCH_BACKENDS?.split(',');
  for (const name of ['bwrap', 'qemu'] as const) {
    if (only && !only.includes(name)) continue;
    await benchBackend(name);
  }
}
