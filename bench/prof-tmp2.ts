import { sessionHarness } from './session-harness.js';
import { stats } from './lib.js';
const h = await sessionHarness('bwrap');
const acc: Record<string, number[]> = {};
const push = (l: string, v: number) => (acc[l] ??= []).push(v);
for (let i = 0; i < 12; i++) {
  for (const warm of [0, 1, 2, 3]) {
  const sb = await h.backend.create({ image: 'default' , memoryMb: 2048});
  for (let k = 0; k < warm; k++) await sb.agent.run({ argv: ['true'] });
  await new Promise((r) => setTimeout(r, 100));
  const t = performance.now(); await sb.agent.run({ argv: ['true'] }); push(`exec after ${warm} warm`, performance.now() - t);
  await sb.destroy();
  }
}
for (const [k, v] of Object.entries(acc)) console.log(k.padEnd(24), stats(v.slice(2)).p50.toFixed(2), 'ms p50');
await h.close();
