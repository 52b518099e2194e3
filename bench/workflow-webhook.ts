/**
 * Webhook → first step: a signed push delivered to `hearth serve` (a bare mirror as the repository
 * source), timed until the run's first step starts, as the run's record says (GET /v1/runs/:id).
 * The baseline, measured in the same run: the same workflow run in-process through the executor on
 * a manager of its own, from the call to its first step's start — what the webhook adds is the
 * delivery, the fetch at the commit, the `on:` match and the record.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { sign } from '@octokit/webhooks-methods';
import { hearthPaths } from '../src/config/paths.js';
import { jobsConfig } from '../src/jobs/config.js';
import { managerConfigFor } from '../src/jobs/service.js';
import { SandboxManager } from '../src/sandboxes/manager.js';
import { startServer } from '../src/server/start.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { executeWorkflow } from '../src/workflows/executor/index.js';
import { parseWorkflow } from '../src/workflows/parse.js';
import { pct, ratio, report, stats } from './lib.js';

const G = 'workflow';
const SAMPLES = 8;
const SECRET = 'bench-secret';
const WORKFLOW =
  'name: CI\non: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: true\n';

function mirror(root: string): string {
  const work = join(root, 'work');
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@example.com', ...args], {
      cwd: work,
      encoding: 'utf8',
    }).trim();
  mkdirSync(join(work, '.github', 'workflows'), { recursive: true });
  writeFileSync(join(work, '.github/workflows/ci.yml'), WORKFLOW);
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'ci');
  mkdirSync(join(root, 'mirror', 'acme'), { recursive: true });
  git('clone', '-q', '--mirror', work, join(root, 'mirror', 'acme', 'app.git'));
  return git('rev-parse', 'HEAD');
}

type RunView = { id: string; status: string; jobs?: Array<{ steps: Array<{ startedAt: string | null }> }> };

async function webhookToFirstStep(url: string, sha: string, delivery: string): Promise<number> {
  const before = new Set(
    ((await (await fetch(`${url}/v1/runs`)).json()) as { runs: RunView[] }).runs.map((r) => r.id),
  );
  const body = JSON.stringify({ ref: 'refs/heads/main', after: sha, repository: { full_name: 'acme/app' } });
  const t0 = Date.now();
  const res = await fetch(`${url}/v1/github/webhook`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': delivery,
      'x-hub-signature-256': await sign(SECRET, body),
    },
    body,
  });
  if (res.status !== 202) throw new Error(`the webhook answered ${res.status}: ${await res.text()}`);
  for (let i = 0; i < 600; i++) {
    const runs = ((await (await fetch(`${url}/v1/runs`)).json()) as { runs: RunView[] }).runs;
    const run = runs.find((r) => !before.has(r.id));
    if (run && run.status !== 'running' && run.status !== 'queued') {
      const detail = (await (await fetch(`${url}/v1/runs/${run.id}`)).json()) as RunView;
      const started = detail.jobs?.[0]?.steps[0]?.startedAt;
      if (run.status !== 'success' || !started) throw new Error(`the webhook's run ended ${run.status}`);
      return Date.parse(started) - t0;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the webhook run did not end within a minute');
}

export default async function workflowWebhook(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-webhook-'));
  const saved = { ...process.env };
  Object.assign(process.env, {
    HEARTH_GITHUB_WEBHOOK_SECRET: SECRET,
    HEARTH_GITHUB_MIRROR_DIR: join(dir, 'mirror'),
    HEARTH_GITHUB_BACKEND: 'bwrap',
    HEARTH_POOL_SIZE: '0',
  });
  const sha = mirror(dir);
  const state = join(dir, 'state');
  mkdirSync(state);
  const server = await startServer({
    port: 0,
    paths: { ...hearthPaths(), state, db: join(state, 'hearth.db'), snapshots: join(state, 'snapshots') },
    logger: false,
    shutdownGraceMs: 0,
  });
  const store = await SqliteStore.open({ path: join(dir, 'direct.db') });
  const manager = new SandboxManager({
    config: { ...managerConfigFor({ ...jobsConfig(), defaultBackend: 'bwrap' }), poolSize: 0 },
    ledger: store.ledger,
    rows: store.sandboxes,
    paths: { ...hearthPaths(), db: join(dir, 'direct.db') },
  });
  try {
    const workflow = await parseWorkflow({ file: 'ci.yml', content: WORKFLOW });
    const webhook: number[] = [];
    const direct: number[] = [];
    // Alternated so both see the same host load; the first of each is a warm-up.
    for (let i = 0; i <= SAMPLES; i++) {
      const w = await webhookToFirstStep(server.url, sha, `bench-${i}`);
      const t0 = performance.now();
      let first = Number.NaN;
      await executeWorkflow({
        manager,
        workflow,
        backend: 'bwrap',
        onEvent: (e) => {
          if (e.type === 'step-start' && Number.isNaN(first)) first = performance.now() - t0;
        },
      });
      if (i > 0) {
        webhook.push(w);
        direct.push(first);
      }
    }
    const hook = stats(webhook);
    const base = stats(direct);
    report({ group: G, name: 'in-process run → first step (bwrap)', value: pct(base) });
    report({
      group: G,
      name: 'webhook → first step (bwrap, mirror)',
      value: pct(hook),
      ratio: ratio(hook.p50, base.p50, 'in-process run → first step'),
    });
  } finally {
    await manager.close();
    await store.close();
    await server.close();
    process.env = saved;
    rmSync(dir, { recursive: true, force: true });
  }
}
