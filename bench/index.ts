/**
 * `npm run bench`: every benchmark group in one run, each printing its figures as ratios against a
 * floor measured in the same run. `npm run bench -- bwrap jobs` runs only the named groups.
 */
import { writeFileSync } from 'node:fs';
import { allRows } from './lib.js';

const groups: Record<string, () => Promise<{ default: () => Promise<void> }>> = {
  agent: () => import('./agent.js'),
  sandbox: () => import('./sandbox.js'),
  jobs: () => import('./jobs.js'),
  qemu: () => import('./qemu.js'),
  sessions: () => import('./sessions.js'),
  e2b: () => import('./e2b.js'),
  learning: () => import('./learning.js'),
  rlm: () => import('./rlm.js'),
  workflows: () => import('./workflows.js'),
  'workflow-snapshots': () => import('./workflow-snapshots.js'),
  'workflow-webhook': () => import('./workflow-webhook.js'),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const [name, load] of Object.entries(groups)) {
  if (wanted.length && !wanted.includes(name)) continue;
  process.stdout.write(`\n== ${name}\n`);
  try {
    await (await load()).default();
  } catch (err) {
    process.stdout.write(`${name}: skipped: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}
if (process.env.HEARTH_BENCH_JSON)
  writeFileSync(process.env.HEARTH_BENCH_JSON, JSON.stringify(allRows(), null, 2));
