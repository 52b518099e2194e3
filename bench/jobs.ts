/**
 * The job service's hot path over real HTTP: POST /v1/jobs?wait=true of a Python hello world to a real
 * server (port 0, SQLite in a temp dir, bwrap sandboxes, a fresh one per job), as ratios against the
 * bare `bwrap … python3 -c` floor measured in the same run.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hearthPaths } from '../src/config/paths.js';
import { requireImage } from '../src/images/store.js';
import { startServer } from '../src/server/start.js';
import { ms, pct, ratio, report, sample, stats } from './lib.js';

const run = promisify(execFile);
const CODE = 'print("Hello, World!")';

async function floor(rootfs: string) {
  const argv = [
    '--unshare-all',
    '--die-with-parent',
    '--ro-bind',
    rootfs,
    '/',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--tmpfs',
    '/tmp',
    '--tmpfs',
    '/work',
    '--chdir',
    '/work',
    '--clearenv',
    '--setenv',
    'PATH',
    '/usr/bin:/bin',
    '--',
    'python3',
    '-c',
    CODE,
  ];
  return sample(30, () => run('bwrap', argv), 3);
}

export default async function jobsBench(): Promise<void> {
  const rootfs = requireImage('default').rootfs;
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-jobs-'));
  const prevBackend = process.env.HEARTH_BACKEND;
  process.env.HEARTH_BACKEND = 'bwrap';
  const server = await startServer({
    port: 0,
    paths: { ...hearthPaths(), db: join(dir, 'hearth.db') },
    logger: false,
    shutdownGraceMs: 0,
  });
  try {
    const submit = async () => {
      const res = await fetch(`${server.url}/v1/jobs?wait=true`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ language: 'python', code: CODE }),
      });
      const job = (await res.json()) as { status: string; result?: { stdout: string } };
      if (job.result?.stdout !== 'Hello, World!\n')
        throw new Error(`unexpected job: ${JSON.stringify(job).slice(0, 300)}`);
    };
    const bare = await floor(rootfs);
    report({ group: 'jobs', name: 'floor: bare bwrap + python3 -c', value: pct(bare) });

    const c1 = await sample(40, submit, 5);
    report({
      group: 'jobs',
      name: 'POST ?wait=true, concurrency 1',
      value: pct(c1),
      ratio: ratio(c1.p50, bare.p50, 'floor p50'),
      target: '≤ 1.50x floor',
      met: c1.p50 <= 1.5 * bare.p50,
    });

    const perWorker = 25;
    const workers = 8;
    const latencies: number[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: workers }, async () => {
        for (let i = 0; i < perWorker; i++) {
          const t = performance.now();
          await submit();
          latencies.push(performance.now() - t);
        }
      }),
    );
    const wallMs = performance.now() - started;
    const c8 = stats(latencies);
    report({
      group: 'jobs',
      name: 'POST ?wait=true, concurrency 8',
      value: pct(c8),
      ratio: ratio(c8.p50, bare.p50, 'floor p50'),
    });
    const perSec = (workers * perWorker) / (wallMs / 1000);
    report({
      group: 'jobs',
      name: `throughput (server concurrency ${server.service.config.concurrency})`,
      value: `${perSec.toFixed(1)} jobs/s`,
      ratio: `floor alone: ${(1000 / bare.p50).toFixed(1)}/s serial`,
      target: '≥ 100 jobs/s',
      met: perSec >= 100,
    });
    report({ group: 'jobs', name: 'wall for 200 jobs', value: ms(wallMs) });
  } finally {
    await server.close();
    if (prevBackend === undefined) delete process.env.HEARTH_BACKEND;
    else process.env.HEARTH_BACKEND = prevBackend;
    rmSync(dir, { recursive: true, force: true });
  }
}
