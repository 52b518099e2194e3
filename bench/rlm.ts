/**
 * The RLM loop's host overhead per REPL step: a model answer in (from a stand-in that answers at
 * once, in process) → its ```python block parsed and run in the session's persistent interpreter →
 * the output back for the next model call, the step recorded. Against the reference
 * implementation's way, measured in the same run: a fresh `python3` per step in the same sandbox
 * that unpickles the state (the context among it), runs the block and pickles the state again.
 * Then the llm_query bridge figures (bench/rlm-bridge.ts).
 */
import { loadavg } from 'node:os';
import { budgetsFrom } from '../src/rlm/budgets.js';
import type { LlmPort } from '../src/rlm/llm-client.js';
import { RlmRunner } from '../src/rlm/runner.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { ms, pct, ratio, report, stats } from './lib.js';
import rlmBridgeBench from './rlm-bridge.js';
import { sessionHarness } from './session-harness.js';

const G = 'rlm';
/** Issue 12's target for a step on bwrap, p50. */
const TARGET_MS = 20;
/** Steps per run and runs per backend; TCG is slow, so qemu gets a few. */
const SHAPE: Record<Name, { steps: number; rounds: number }> = {
  bwrap: { steps: 60, rounds: 3 },
  qemu: { steps: 20, rounds: 1 },
};
type Name = 'bwrap' | 'qemu';
/** The context both ways carry: 100 KB of text. */
const CONTEXT = 'the quick brown fox jumps over the lazy dog\n'.repeat(2400);
const BLOCK = "x = x + 1 if 'x' in globals() else 1\nn = len(context)\nprint(x, n)";

/** A root model that answers at once: `steps` python blocks, then FINAL. */
function instantModel(steps: number): LlmPort {
  return {
    async complete({ messages }) {
      const answered = messages.filter((m) => m.role === 'assistant').length;
      const text = answered < steps ? `\`\`\`python\n${BLOCK}\n\`\`\`` : 'FINAL(done)';
      return { text, tokensIn: 1, tokensOut: 1 };
    },
  };
}

const STEP_PY = [
  'import os, pickle, sys',
  "p = '/work/state.pkl'",
  'if os.path.exists(p):',
  "    g = pickle.load(open(p, 'rb'))",
  'else:',
  "    g = {'context': open('/work/context.txt').read()}",
  'exec(sys.argv[1], g)',
  "pickle.dump({k: v for k, v in g.items() if k != '__builtins__'}, open(p, 'wb'))",
].join('\n');

export default async function rlmBench(): Promise<void> {
  // HEARTH_BENCH_BACKENDS=bwrap narrows the group, as for the sessions group.
  const only = process.env.HEARTH_BENCH_BACKENDS?.split(',');
  for (const name of ['bwrap', 'qemu'] as const) {
    if (only && !only.includes(name)) continue;
    await loopBench(name).catch((err: unknown) => {
      report({
        group: G,
        name: `${name}: loop skipped`,
        value: err instanceof Error ? err.message : String(err),
      });
    });
  }
  await rlmBridgeBench();
}

async function loopBench(backend: Name): Promise<void> {
  const { steps: STEPS, rounds: ROUNDS } = SHAPE[backend];
  const h = await sessionHarness(backend, backend === 'qemu' ? { qemuPool: 0 } : {});
  const store = await SqliteStore.open({ path: ':memory:' });
  try {
    const runner = new RlmRunner({ sessions: h.service, llm: instantModel(STEPS), store: store.rlm });
    const loop: number[] = [];
    const fresh: number[] = [];
    const s = await h.service.createSession({ backend, language: 'python' });
    await h.service.writeFile(s.id, '/work/context.txt', CONTEXT);
    await h.service.writeFile(s.id, '/work/step.py', STEP_PY);
    for (let round = 0; round < ROUNDS; round++) {
      const run = await runner.run(
        {
          query: 'bench',
          source: { kind: 'text', text: CONTEXT },
          rootModel: 'instant',
          subModel: 'instant',
          budgets: budgetsFrom({ maxIterations: STEPS + 1 }),
          backend,
        },
        {
          events: {
            // The last step only reads FINAL; the first warms the interpreter.
            onStep: (step) => {
              if (step.index > 1 && step.index <= STEPS) loop.push(step.durationMs);
            },
          },
        },
      );
      if (run.stopReason !== 'final')
        throw new Error(`the loop ended with ${run.stopReason}: ${run.error?.message}`);
      for (let i = 0; i < STEPS; i++) {
        const t = performance.now();
        const r = await h.service.runCommand(s.id, { argv: ['python3', '/work/step.py', BLOCK] });
        if (r.exitCode !== 0) throw new Error(`python3 per step failed: ${r.stderr}`);
        if (i > 0) fresh.push(performance.now() - t);
      }
    }
    await h.service.deleteSession(s.id);
    const a = stats(loop);
    const b = stats(fresh);
    report({
      group: G,
      name: `${backend}: loop step (answer in → output back)`,
      value: pct(a),
      ratio: `${ratio(a.p50, b.p50, 'fresh python3 + pickle per step')}; load ${loadavg()[0]?.toFixed(1)}`,
      ...(backend === 'bwrap' ? { target: `≤ ${ms(TARGET_MS)}`, met: a.p50 <= TARGET_MS } : {}),
    });
    report({ group: G, name: `${backend}: fresh python3 + pickled state per step`, value: pct(b) });
  } finally {
    await store.close();
    await h.close();
  }
}
