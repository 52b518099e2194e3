import { mkdtempSync, rmSync } from 'node:fs';
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

  it('acknowledges a push at once and records its workflow request in the database', async () => {
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
    // A second connection to the server's database, as the runner would read it.
    const store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
    try {
      let delivery = await store.github.getDelivery('serve-1');
      while (delivery?.status === 'queued') {
        await new Promise((r) => setTimeout(r, 50));
        delivery = await store.github.getDelivery('serve-1');
      }
      expect(delivery?.status).toBe('launched');
      const requests = await store.github.listWorkflowRequests({ limit: 5, deliveryId: 'serve-1' });
      expect(requests.map((r) => r.workflows.map((w) => w.name))).toEqual([['CI']]);
    } finally {
      await store.close();
    }
  });
});
