import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hearthPaths } from '../src/config/paths.js';
import { type RunningServer, startServer } from '../src/server/start.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { makeMirror, REPO } from './github-fixture.js';

const SECRET = 'serve-secret';
const VARS = { HEARTH_GITHUB_WEBHOOK_SECRET: SECRET, HEARTH_GITHUB_MAX_CONCURRENT: '1' };

describe('hearth serve with HEARTH_GITHUB_WEBHOOK_SECRET and a mirror', () => {
  let dir: string;
  let server: RunningServer;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-github-serve-'));
    const env: Record<string, string> = { ...VARS, HEARTH_GITHUB_MIRROR_DIR: join(dir, 'mirror') };
    for (const [k, v] of Object.entries(env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    server = await startServer({
      port: 0,
      paths: { ...hearthPaths(), state: dir, db: join(dir, 'hearth.db'), snapshots: join(dir, 'snapshots') },
      logger: false,
      shutdownGraceMs: 0,
    });
  });

  afterAll(async () => {
    await server?.close();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('acknowledges a push at once, runs the matched workflow and serves its record, logs and metrics', async () => {
    const shas = makeMirror(dir);
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      after: shas.main,
      repository: { full_name: REPO },
      commits: [{ modified: ['src/a.ts'] }],
    });
    const res = await fetch(`${server.url}/v1/github/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-github-delivery': 'serve-1',
        'x-hub-signature-256': await sign(SECRET, body),
      },
      body,
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ status: 'queued', delivery: 'serve-1' });
    // A second connection to the server's database, as another worker would read it.
    const store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
    try {
      let delivery = await store.github.getDelivery('serve-1');
      while (delivery?.status === 'queued') {
        await new Promise((r) => setTimeout(r, 50));
        delivery = await store.github.getDelivery('serve-1');
      }
      expect(delivery?.status).toBe('launched');
    } finally {
      await store.close();
    }
    // The matched workflow runs as a recorded run, listed by GET /v1/runs once it ends.
    type Run = { id: string; workflow: string; status: string; event: string; repository: string };
    let run: Run | undefined;
    for (let i = 0; i < 1200 && run?.status !== 'success' && run?.status !== 'failure'; i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      const list = (await (await fetch(`${server.url}/v1/runs`)).json()) as { runs: Run[] };
      run = list.runs.find((r) => r.workflow === 'CI');
    }
    expect(run).toMatchObject({ status: 'success', event: 'push', repository: REPO });
    const detail = (await (await fetch(`${server.url}/v1/runs/${run?.id}`)).json()) as {
      jobs: Array<{
        key: string;
        result: string;
        sandboxId: string;
        steps: Array<{ number: number; conclusion: string; snapshotId: string | null }>;
      }>;
    };
    expect(detail.jobs.map((j) => [j.key, j.result])).toEqual([['build', 'success']]);
    expect(detail.jobs[0]?.sandboxId).toBeTruthy();
    expect(detail.jobs[0]?.steps.map((s) => [s.number, s.conclusion])).toEqual([[1, 'success']]);
    const logs = await fetch(`${server.url}/v1/runs/${run?.id}/logs`);
    expect(logs.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await logs.text()).toContain('=== build › 1. Run true (success)');
    const json = (await (
      await fetch(`${server.url}/v1/runs/${run?.id}/logs`, { headers: { accept: 'application/json' } })
    ).json()) as { steps: Array<{ job: string; number: number }> };
    expect(json.steps.map((s) => [s.job, s.number])).toEqual([['build', 1]]);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/hearth_workflow_runs_total\{result="success"\} 1/);
    expect(metrics).toMatch(/hearth_workflow_job_duration_seconds_count\{result="success"\} 1/);
    // Deleting the run frees its step snapshots with its records.
    expect((await fetch(`${server.url}/v1/runs/${run?.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${server.url}/v1/runs/${run?.id}`)).status).toBe(404);
    expect(readdirSync(join(dir, 'workflow-snapshots'))).toEqual([]);
  });

  it('answers 404 with a code for an unknown run and 400 for a bad query', async () => {
    const missing = await fetch(`${server.url}/v1/runs/no-such-run`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('WORKFLOW_RUN_NOT_FOUND');
    expect((await fetch(`${server.url}/v1/runs?limit=0`)).status).toBe(400);
    expect((await fetch(`${server.url}/v1/runs?status=bogus`)).status).toBe(400);
    expect((await fetch(`${server.url}/v1/runs/no-such-run`, { method: 'DELETE' })).status).toBe(404);
  });
});
