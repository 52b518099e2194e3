import { sessionHarness } from './session-harness.js';
import { stats } from './lib.js';
const h = await sessionHarness('bwrap');
const acc: Record<string, number[]> = {};
const wrap = (obj: any, name: string, label: string) => {
  const orig = obj[name].bind(obj);
  obj[name] = async (...a: unknown[]) => { const t = performance.now(); try { return await orig(...a); } finally { (acc[label] ??= []).push(performance.now() - t); } };
};
const store: any = (h.service as any);
// reach the store through the manager's rows and the service options
wrap(h.manager, 'acquire', 'manager.acquire');
wrap(h.manager.pool, 'acquire', 'pool.acquire');
wrap(h.manager.backends, 'get', 'backends.get');
const push = (l: string, v: number) => (acc[l] ??= []).push(v);
for (let i = 0; i < 25; i++) {
  await h.poolReady();
  const t0 = performance.now();
  const s = await h.service.createSession({});
  const t1 = performance.now();
  await h.service.runCommand(s.id, { argv: ['true'] });
  const t2 = performance.now();
  await h.service.runCommand(s.id, { argv: ['true'] });
  const t3 = performance.now();
  push('createSession', t1 - t0); push('first runCommand', t2 - t1); push('second runCommand', t3 - t2);
  await h.service.deleteSession(s.id);
}
for (const [k, v] of Object.entries(acc)) console.log(k.padEnd(24), stats(v.slice(3)).p50.toFixed(2), 'ms p50', stats(v.slice(3)).mean.toFixed(2), 'mean');
await h.close();
