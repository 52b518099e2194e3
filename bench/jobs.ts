/**
 * The job service's hot path over real HTTP: POST /v1/jobs?wait=true of a Python hello world to a real
 * server — `hearth serve` from dist/cli.js as its own process, as users run it (port 0, SQLite in a
 * temp dir, bwrap sandboxes, a fresh one per job) — as ratios against the bare `bwrap … python3 -c`
 * floor measured in the same run. Floor and jobs are measured alternately
 * (sample by sample at concurrency 1, round by round at concurrency 8) so both see the same host load.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { distDir } from '../src/config/paths.js';
import { requireImage } from '../src/images/store.js';
import { bareBwrap, ms, pct, ratio, report, type Stats, stats } from './lib.js';

const run = promisify(execFile);
const CODE = 'print("Hello, World!")';
const SAMPLES_C1 = 40;
const WORKERS = 8;
const JOBS_PER_ROUND = 100;
const ROUNDS = 2;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** `total` calls of `fn`, `workers` in flight at once: every latency and the wall time. */
async function inFlight(fn: () => Promise<unknown>, workers: number, total: number) {
  const latencies: number[] = [];
  let left = total;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (left-- > 0) latencies.push(await timed(fn));
    }),
  );
  return { latencies, wallMs: performance.now() - started };
}

const perSec = (n: number, wallMs: number) => n / (wallMs / 1000);

/** `hearth serve --port 0` from the build; resolves with its URL once it listens. */
function serve(dbDir: string): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(distDir(), 'cli.js'), 'serve', '--port', '0'], {
      env: {
        ...process.env,
        HEARTH_DB: join(dbDir, 'hearth.db'),
        HEARTH_BACKEND: 'bwrap',
        HEARTH_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout?.on('data', (c) => {
      out += c;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) resolve({ child, url: m[1] });
    });
    child.once('exit', (code) => reject(new Error(`hearth serve exited ${code}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export default async function jobsBench(): Promise<void> {
  const argv = bareBwrap(requireImage('default').rootfs, ['python3', '-c', CODE]);
  const bare = () => run('bwrap', argv);
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-jobs-'));
  const server = await serve(dir);
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

    for (let i = 0; i < 5; i++) await Promise.all([bare(), submit()]);
    const floor1: number[] = [];
    const jobs1: number[] = [];
    for (let i = 0; i < SAMPLES_C1; i++) {
      floor1.push(await timed(bare));
      jobs1.push(await timed(submit));
    }
    const f1 = stats(floor1);
    const j1 = stats(jobs1);
    report({ group: 'jobs', name: 'floor: bare bwrap + python3 -c, concurrency 1', value: pct(f1) });
    report({
      group: 'jobs',
      name: 'POST ?wait=true, concurrency 1',
      value: pct(j1),
      ratio: ratio(j1.p50, f1.p50, 'floor p50'),
      target: '≤ 1.50x floor',
      met: j1.p50 <= 1.5 * f1.p50,
    });

    const floor8 = { latencies: [] as number[], wallMs: 0 };
    const jobs8 = { latencies: [] as number[], wallMs: 0 };
    for (let r = 0; r < ROUNDS; r++) {
      for (const [fn, into] of [
        [bare, floor8],
        [submit, jobs8],
      ] as const) {
        const got = await inFlight(fn, WORKERS, JOBS_PER_ROUND);
        into.latencies.push(...got.latencies);
        into.wallMs += got.wallMs;
      }
    }
    const health = (await (await fetch(`${server.url}/health`)).json()) as { queue: { concurrency: number } };
    const concurrency = health.queue.concurrency;
    const f8: Stats = stats(floor8.latencies);
    const j8: Stats = stats(jobs8.latencies);
    const total = ROUNDS * JOBS_PER_ROUND;
    const floorRate = perSec(total, floor8.wallMs);
    const jobRate = perSec(total, jobs8.wallMs);
    report({
      group: 'jobs',
      name: `floor: bare bwrap, concurrency ${WORKERS}`,
      value: `${floorRate.toFixed(1)} runs/s`,
      ratio: pct(f8),
    });
    report({
      group: 'jobs',
      name: `POST ?wait=true, concurrency ${WORKERS}`,
      value: pct(j8),
      ratio: ratio(j8.p50, f8.p50, `floor p50 at concurrency ${WORKERS}`),
    });
    report({
      group: 'jobs',
      name: `throughput (server concurrency ${concurrency})`,
      value: `${jobRate.toFixed(1)} jobs/s`,
      ratio: `${(jobRate / floorRate).toFixed(2)}x floor's ${floorRate.toFixed(1)} runs/s`,
      target: '≥ 100 jobs/s',
      met: jobRate >= 100,
    });
    report({ group: 'jobs', name: `wall for ${total} jobs`, value: ms(jobs8.wallMs) });
  } finally {
    await stop(server.child);
    rmSync(dir, { recursive: true, force: true });
  }
}
