import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookDispatcher } from '../src/github/dispatcher.js';
import { StoreLauncher } from '../src/github/launcher.js';
import { fetchRepository } from '../src/github/repository-fetch.js';
import { CommitStatusReporter } from '../src/github/status-reporter.js';
import { jobsConfig } from '../src/jobs/config.js';
import { JobService } from '../src/jobs/service.js';
import { buildApp } from '../src/server/app.js';
import { installAuth } from '../src/server/auth.js';
import { installErrorHandling } from '../src/server/errors.js';
import { ServerMetrics } from '../src/server/metrics.js';
import { githubWebhookRoutes } from '../src/server/routes/github-webhook.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { makeMirror, REPO, startRecordingApi } from './github-fixture.js';

const SECRET = 'webhook-secret';
const TOKEN = 'gh-token';

/** What the route answers: a status, or an error. */
interface Answer {
  status?: string;
  delivery?: string;
  reason?: string;
  error?: { code: string; hint: string };
}

describe('POST /v1/github/webhook (a real server on port 0, a local mirror, SQLite)', () => {
  let root: string;
  let shas: ReturnType<typeof makeMirror>;
  let store: SqliteStore;
  let dispatcher: WebhookDispatcher;
  let app: FastifyInstance;
  let url: string;
  let api: Awaited<ReturnType<typeof startRecordingApi>>;
  let n = 0;

  const deliver = async (
    event: string,
    payload: unknown,
    o: { id?: string; signature?: string | null; contentType?: string } = {},
  ) => {
    const body = JSON.stringify(payload);
    const id = o.id ?? `delivery-${++n}`;
    const headers: Record<string, string> = {
      'content-type': o.contentType ?? 'application/json',
      'x-github-event': event,
      'x-github-delivery': id,
    };
    const signature = o.signature === undefined ? await sign(SECRET, body) : o.signature;
    if (signature !== null) headers['x-hub-signature-256'] = signature;
    const res = await fetch(`${url}/v1/github/webhook`, { method: 'POST', headers, body });
    return { id, status: res.status, body: (await res.json()) as Answer };
  };
  const requestsOf = async (deliveryId: string) => {
    await dispatcher.idle();
    return store.github.listWorkflowRequests({ limit: 10, deliveryId });
  };
  const repository = { full_name: REPO };
  const push = (ref: string, after: string, files: string[]) => ({
    ref,
    before: '0'.repeat(40),
    after,
    repository,
    commits: [{ id: after, added: [], modified: files, removed: [] }],
  });
  const pr = (action: string, head: string, base = 'main') => ({
    action,
    number: 7,
    repository,
    pull_request: { number: 7, head: { sha: head, ref: 'x' }, base: { sha: shas.main, ref: base } },
  });

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'hearth-github-webhook-'));
    shas = makeMirror(root);
    store = await SqliteStore.open({ path: join(root, 'hearth.db') });
    api = await startRecordingApi();
    dispatcher = new WebhookDispatcher({
      store: store.github,
      launcher: new StoreLauncher({ store: store.github }),
      source: { kind: 'mirror', dir: join(root, 'mirror') },
      reporter: new CommitStatusReporter({ token: TOKEN, baseUrl: api.url }),
      maxConcurrent: 2,
      maxQueued: 10,
      workDir: root,
    });
    app = Fastify({ logger: false });
    installErrorHandling(app);
    // With API tokens on, the webhook still needs none: its signature is the check.
    installAuth(app, ['api-token']);
    await app.register(githubWebhookRoutes, { secret: SECRET, dispatcher });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await app?.close();
    await dispatcher?.close();
    await store?.close();
    await new Promise((resolve) => api?.server.close(resolve));
    rmSync(root, { recursive: true, force: true });
  });

  it('refuses a delivery without a signature (400) or with a wrong one (401), recording nothing', async () => {
    const missing = await deliver('push', push('refs/heads/main', shas.main, []), { signature: null });
    expect(missing.status).toBe(400);
    expect(missing.body.error?.code).toBe('WEBHOOK_SIGNATURE_MISSING');
    const wrong = await deliver('push', push('refs/heads/main', shas.main, []), {
      signature: await sign('another-secret', '{}'),
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error?.code).toBe('WEBHOOK_SIGNATURE_INVALID');
    expect(await store.github.getDelivery(missing.id)).toBeUndefined();
    expect(await store.github.getDelivery(wrong.id)).toBeUndefined();
  });

  it('answers ping with 200, other events with 202 ignored and the reason', async () => {
    const ping = await deliver('ping', { zen: 'Keep it logically awesome.', hook_id: 1 });
    expect(ping).toMatchObject({ status: 200, body: { status: 'pong' } });
    const issues = await deliver('issues', { action: 'opened', repository });
    expect(issues).toMatchObject({ status: 202, body: { status: 'ignored' } });
    expect(issues.body.reason).toContain('issues');
  });

  it('queues a matching push once, with the matching workflows; a replay is a duplicate', async () => {
    const first = await deliver('push', push('refs/heads/main', shas.main, ['docs/readme.md', 'src/a.ts']));
    expect(first).toMatchObject({ status: 202, body: { status: 'queued', delivery: first.id } });
    const replay = await deliver('push', push('refs/heads/main', shas.main, ['docs/readme.md']), {
      id: first.id,
    });
    expect(replay).toMatchObject({ status: 200, body: { status: 'duplicate' } });
    const requests = await requestsOf(first.id);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      repository: REPO,
      ref: 'refs/heads/main',
      sha: shas.main,
      event: 'push',
    });
    expect(requests[0]?.workflows).toEqual([
      { path: '.github/workflows/ci.yml', name: 'CI' },
      { path: '.github/workflows/docs.yml', name: 'Docs' },
    ]);
    expect(await store.github.getDelivery(first.id)).toMatchObject({ status: 'launched' });
    const statuses = api.calls.filter((c) => c.url === `/repos/${REPO}/statuses/${shas.main}`);
    expect(statuses.map((c) => c.body.context).sort()).toEqual(['hearth/CI', 'hearth/Docs']);
    expect(statuses.every((c) => c.body.state === 'pending' && c.authorization === `token ${TOKEN}`)).toBe(
      true,
    );
  });

  it('queues nothing for a push to a branch the on: filter excludes', async () => {
    const d = await deliver('push', push('refs/heads/feature/x', shas.feature, ['src/b.ts']));
    expect(d.status).toBe(202);
    expect(await requestsOf(d.id)).toEqual([]);
    const row = await store.github.getDelivery(d.id);
    expect(row?.status).toBe('no-match');
    expect(row?.detail).toContain('the branch feature/x is filtered out');
  });

  it('applies paths: a push to main that changes only src/ runs CI but not Docs', async () => {
    const d = await deliver('push', push('refs/heads/main', shas.main, ['src/a.ts']));
    expect((await requestsOf(d.id)).map((r) => r.workflows.map((w) => w.name))).toEqual([['CI']]);
  });

  it('applies pull_request types, base branches and paths (from the diff of the pull request)', async () => {
    const opened = await deliver('pull_request', pr('opened', shas.feature));
    const requests = await requestsOf(opened.id);
    expect(requests.map((r) => r.workflows.map((w) => w.name))).toEqual([['CI', 'Lint']]);
    expect(requests[0]).toMatchObject({ sha: shas.feature, ref: 'refs/pull/7/head', event: 'pull_request' });
    // Only docs/ changed: Lint's paths do not match.
    const docs = await deliver('pull_request', pr('synchronize', shas.docsOnly));
    expect((await requestsOf(docs.id)).map((r) => r.workflows.map((w) => w.name))).toEqual([['CI']]);
    // reopened is a default type (Lint) but not in CI's types.
    const reopened = await deliver('pull_request', pr('reopened', shas.feature));
    expect((await requestsOf(reopened.id)).map((r) => r.workflows.map((w) => w.name))).toEqual([['Lint']]);
    const closed = await deliver('pull_request', pr('closed', shas.feature));
    expect(await requestsOf(closed.id)).toEqual([]);
    expect(await store.github.getDelivery(closed.id)).toMatchObject({ status: 'no-match' });
    const otherBase = await deliver('pull_request', pr('opened', shas.docsOnly, 'release'));
    expect(await requestsOf(otherBase.id)).toEqual([]);
  });

  it('runs workflow_dispatch for the workflow named, at the tip of the ref', async () => {
    const d = await deliver('workflow_dispatch', {
      ref: 'refs/heads/main',
      workflow: '.github/workflows/manual.yml',
      inputs: {},
      repository,
    });
    const requests = await requestsOf(d.id);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ sha: shas.main, workflows: [{ name: 'Manual' }] });
  });

  it('takes form-encoded deliveries, signed over the raw body', async () => {
    const body = `payload=${encodeURIComponent(JSON.stringify({ zen: 'x' }))}`;
    const res = await fetch(`${url}/v1/github/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-github-event': 'ping',
        'x-github-delivery': 'form-1',
        'x-hub-signature-256': await sign(SECRET, body),
      },
      body,
    });
    expect(res.status).toBe(200);
  });

  it('records a fetch failure on the delivery', async () => {
    const d = await deliver('push', {
      ...push('refs/heads/main', shas.main, []),
      repository: { full_name: 'acme/none' },
    });
    expect(d.status).toBe(202);
    expect(await requestsOf(d.id)).toEqual([]);
    expect(await store.github.getDelivery(d.id)).toMatchObject({ status: 'failed' });
    expect((await store.github.getDelivery(d.id))?.detail).toContain('no mirror of acme/none');
  });

  it('refuses a signed payload that lacks its fields with 400', async () => {
    const d = await deliver('push', { ref: 'refs/heads/main', repository });
    expect(d.status).toBe(400);
    expect(d.body.error?.code).toBe('BAD_REQUEST');
  });

  it('fetches a commit that is not a tip from the mirror', async () => {
    const dir = join(root, 'checkout');
    const { sha } = await fetchRepository({
      repository: REPO,
      source: { kind: 'mirror', dir: join(root, 'mirror') },
      dir,
      sha: shas.first,
    });
    expect(sha).toBe(shas.first);
    expect(readFileSync(join(dir, 'src/a.ts'), 'utf8')).toBe('first\n');
    await expect(
      fetchRepository({
        repository: REPO,
        source: { kind: 'mirror', dir: join(root, 'mirror') },
        dir: join(root, 'checkout-2'),
        sha: 'f'.repeat(40),
      }),
    ).rejects.toMatchObject({ code: 'REPOSITORY_FETCH_FAILED' });
  });

  it('reports a commit status to the REST API (the recording stand-in)', async () => {
    const reporter = new CommitStatusReporter({ token: TOKEN, baseUrl: api.url });
    await reporter.report({
      repository: REPO,
      sha: shas.main,
      state: 'failure',
      context: 'hearth/CI',
      description: 'x'.repeat(300),
      targetUrl: 'http://127.0.0.1/v1/runs/1',
    });
    const last = api.calls.at(-1);
    expect(last).toMatchObject({ method: 'POST', url: `/repos/${REPO}/statuses/${shas.main}` });
    expect(last?.body).toMatchObject({
      state: 'failure',
      context: 'hearth/CI',
      target_url: 'http://127.0.0.1/v1/runs/1',
    });
    expect(String(last?.body.description).length).toBe(140);
  });
});

describe('POST /v1/github/webhook on buildApp without a secret', () => {
  it('answers 503 WEBHOOK_NOT_CONFIGURED, saying how to enable it, with API tokens on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-github-app-'));
    const store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
    const metrics = new ServerMetrics();
    const service = new JobService({ store, config: jobsConfig({}), metrics });
    const app = await buildApp({ service, metrics, tokens: ['api-token'] });
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/github/webhook',
        headers: { 'content-type': 'application/json', 'x-github-event': 'ping' },
        payload: '{}',
      });
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe('WEBHOOK_NOT_CONFIGURED');
      expect(res.json().error.hint).toContain('HEARTH_GITHUB_WEBHOOK_SECRET');
      // Only the webhook is open without a token.
      expect((await app.inject({ method: 'GET', url: '/v1/jobs' })).statusCode).toBe(401);
    } finally {
      await app.close();
      await service.close({ graceMs: 0 });
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
