import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookDispatcher } from '../src/github/dispatcher.js';
import { routeEvent } from '../src/github/events.js';
import { type LaunchRequest, StoreLauncher, type WorkflowLauncher } from '../src/github/launcher.js';
import { fetchRepository } from '../src/github/repository-fetch.js';
import { CommitStatusReporter } from '../src/github/status-reporter.js';
import { type TriggerEvent, triggersFor } from '../src/github/triggers.js';
import { jobsConfig } from '../src/jobs/config.js';
import { JobService } from '../src/jobs/service.js';
import { buildApp } from '../src/server/app.js';
import { installAuth } from '../src/server/auth.js';
import { installErrorHandling } from '../src/server/errors.js';
import { ServerMetrics } from '../src/server/metrics.js';
import { githubWebhookRoutes } from '../src/server/routes/github-webhook.js';
import { SqliteStore } from '../src/store/sqlite-store.js';

const SECRET = 'webhook-secret';
const TOKEN = 'gh-token';
const REPO = 'acme/app';

const WORKFLOWS: Record<string, string> = {
  'ci.yml': `name: CI
on:
  push:
    branches: [main, 'release/**']
  pull_request:
    types: [opened, synchronize]
    branches: [main]
jobs: { build: { runs-on: ubuntu-latest, steps: [{ run: 'true' }] } }
`,
  'docs.yml': `name: Docs
on:
  push:
    paths: ['docs/**']
jobs: { build: { runs-on: ubuntu-latest, steps: [{ run: 'true' }] } }
`,
  'lint.yml': `name: Lint
on:
  pull_request:
    paths: ['src/**']
jobs: { build: { runs-on: ubuntu-latest, steps: [{ run: 'true' }] } }
`,
  'manual.yml': `name: Manual
on: workflow_dispatch
jobs: { build: { runs-on: ubuntu-latest, steps: [{ run: 'true' }] } }
`,
};

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    cwd,
    encoding: 'utf8',
  }).trim();

/** A repository with main (first, second commit), feature/x (changes src/) and docs-only (changes docs/), mirrored bare. */
function makeMirror(root: string): Record<'first' | 'main' | 'feature' | 'docsOnly', string> {
  const work = join(root, 'work');
  mkdirSync(join(work, '.github', 'workflows'), { recursive: true });
  git(work, 'init', '-q', '-b', 'main');
  for (const [name, text] of Object.entries(WORKFLOWS))
    writeFileSync(join(work, '.github/workflows', name), text);
  const put = (path: string, text: string) => {
    mkdirSync(dirname(join(work, path)), { recursive: true });
    writeFileSync(join(work, path), text);
  };
  put('src/a.ts', 'first\n');
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'first');
  const first = git(work, 'rev-parse', 'HEAD');
  put('docs/readme.md', 'docs\n');
  put('src/a.ts', 'second\n');
  git(work, 'commit', '-qam', 'second');
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'docs', '--allow-empty');
  const main = git(work, 'rev-parse', 'HEAD');
  git(work, 'checkout', '-q', '-b', 'feature/x');
  put('src/b.ts', 'feature\n');
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'feature');
  const feature = git(work, 'rev-parse', 'HEAD');
  git(work, 'checkout', '-q', 'main');
  git(work, 'checkout', '-q', '-b', 'docs-only');
  put('docs/more.md', 'more\n');
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'more docs');
  const docsOnly = git(work, 'rev-parse', 'HEAD');
  mkdirSync(join(root, 'mirror', 'acme'), { recursive: true });
  git(root, 'clone', '-q', '--mirror', work, join(root, 'mirror', 'acme', 'app.git'));
  return { first, main, feature, docsOnly };
}

/** What the route answers: a status, or an error. */
interface Answer {
  status?: string;
  delivery?: string;
  reason?: string;
  error?: { code: string; hint: string };
}

interface Recorded {
  method: string;
  url: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
}

/** A stand-in for GitHub's REST API (unreachable here): records each call and answers 201. */
async function startRecordingApi(): Promise<{ server: Server; url: string; calls: Recorded[] }> {
  const calls: Recorded[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      calls.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body: body ? JSON.parse(body) : {},
      });
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
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

describe("triggersFor: on: filters with GitHub's pattern rules", () => {
  const pushTo = (ref: string, changedFiles?: string[]): TriggerEvent => ({
    name: 'push',
    ref,
    ...(changedFiles ? { changedFiles } : {}),
  });

  it('reads on: as a string, a list or a map', () => {
    expect(triggersFor('on: push', pushTo('refs/heads/x')).matched).toBe(true);
    expect(triggersFor('on: [pull_request, push]', pushTo('refs/heads/x')).matched).toBe(true);
    expect(triggersFor('on: { pull_request: {} }', pushTo('refs/heads/x')).matched).toBe(false);
  });

  it('keeps branch pushes and tag pushes apart', () => {
    const tagsOnly = 'on: { push: { tags: ["v*"] } }';
    expect(triggersFor(tagsOnly, pushTo('refs/tags/v1.2')).matched).toBe(true);
    expect(triggersFor(tagsOnly, pushTo('refs/heads/main')).matched).toBe(false);
    const branchesOnly = 'on: { push: { branches: [main] } }';
    expect(triggersFor(branchesOnly, pushTo('refs/tags/v1.2')).matched).toBe(false);
    // Tags are not subject to paths filters.
    expect(
      triggersFor('on: { push: { paths: ["src/**"] } }', pushTo('refs/tags/v1', ['docs/a'])).matched,
    ).toBe(true);
  });

  it('applies *, **, ?, + and ! as GitHub does', () => {
    const on = (filters: string) => `on: { push: { ${filters} } }`;
    expect(triggersFor(on('branches: ["feature/*"]'), pushTo('refs/heads/feature/a')).matched).toBe(true);
    expect(triggersFor(on('branches: ["feature/*"]'), pushTo('refs/heads/feature/a/b')).matched).toBe(false);
    expect(triggersFor(on('branches: ["feature/**"]'), pushTo('refs/heads/feature/a/b')).matched).toBe(true);
    const ordered = on('branches: ["releases/**", "!releases/**-alpha"]');
    expect(triggersFor(ordered, pushTo('refs/heads/releases/10')).matched).toBe(true);
    expect(triggersFor(ordered, pushTo('refs/heads/releases/10-alpha')).matched).toBe(false);
    expect(triggersFor(on('branches-ignore: ["dev*"]'), pushTo('refs/heads/devel')).matched).toBe(false);
    expect(triggersFor(on('branches-ignore: ["dev*"]'), pushTo('refs/heads/main')).matched).toBe(true);
    const readme = on('paths: ["**/README.md"]');
    expect(triggersFor(readme, pushTo('refs/heads/m', ['README.md'])).matched).toBe(true);
    expect(triggersFor(readme, pushTo('refs/heads/m', ['a/b/README.md'])).matched).toBe(true);
    expect(triggersFor(readme, pushTo('refs/heads/m', ['README.txt'])).matched).toBe(false);
    const jsx = on('paths: ["*.jsx?"]');
    expect(triggersFor(jsx, pushTo('refs/heads/m', ['a.js'])).matched).toBe(true);
    expect(triggersFor(jsx, pushTo('refs/heads/m', ['a.jsx'])).matched).toBe(true);
    expect(triggersFor(jsx, pushTo('refs/heads/m', ['a.jsxx', 'src/a.js'])).matched).toBe(false);
    expect(triggersFor(on('tags: ["v[12].+"]'), pushTo('refs/tags/v1....')).matched).toBe(true);
    expect(triggersFor(on('tags: ["v[12].+"]'), pushTo('refs/tags/v3.')).matched).toBe(false);
    const ignore = on('paths-ignore: ["docs/**"]');
    expect(triggersFor(ignore, pushTo('refs/heads/m', ['docs/a.md'])).matched).toBe(false);
    expect(triggersFor(ignore, pushTo('refs/heads/m', ['docs/a.md', 'src/a.ts'])).matched).toBe(true);
  });

  it('does not run an invalid workflow, and says why', () => {
    expect(triggersFor('on: [push', pushTo('refs/heads/m')).reason).toContain('invalid workflow');
    const both = triggersFor('on: { push: { branches: [a], branches-ignore: [b] } }', pushTo('refs/heads/a'));
    expect(both).toMatchObject({ matched: false });
    expect(both.reason).toContain('both branches and branches-ignore');
    expect(triggersFor('jobs: {}', pushTo('refs/heads/m')).reason).toContain('no `on:`');
  });
});

describe('WebhookDispatcher: bounded queue and resumption', () => {
  it('answers QUEUE_FULL past its queue, and resumes what a stopped server recorded', async () => {
    const root = mkdtempSync(join(tmpdir(), 'hearth-github-dispatch-'));
    const store = await SqliteStore.open({ path: join(root, 'hearth.db') });
    const launched: LaunchRequest[] = [];
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    // A launcher whose runs end only when released: the one handler slot stays taken.
    const launcher: WorkflowLauncher = {
      launch: async (r) => {
        launched.push(r);
        return { id: `run-${launched.length}`, finished: held.then(() => 'success' as const) };
      },
    };
    try {
      const shas = makeMirror(root);
      const source = { kind: 'mirror' as const, dir: join(root, 'mirror') };
      const payload = {
        ref: 'refs/heads/main',
        after: shas.main,
        repository: { full_name: REPO },
        commits: [],
      };
      const routing = routeEvent('push', payload);
      if (routing.kind !== 'runnable') throw new Error('not runnable');
      const d = (id: string) => ({ id, event: 'push', runnable: routing.event, payload });
      const one = new WebhookDispatcher({
        store: store.github,
        launcher,
        source,
        maxConcurrent: 1,
        maxQueued: 1,
        workDir: root,
      });
      expect(await one.accept(d('a'))).toBe('queued');
      while (!launched.length) await new Promise((r) => setTimeout(r, 20));
      expect(await one.accept(d('b'))).toBe('queued');
      await expect(one.accept(d('c'))).rejects.toMatchObject({ code: 'QUEUE_FULL', status: 429 });
      expect(await store.github.getDelivery('c')).toBeUndefined();
      // Stopping drops `b` from memory; its row stays queued.
      const closing = one.close();
      release();
      await closing;
      expect(launched).toHaveLength(1);
      expect(await store.github.getDelivery('b')).toMatchObject({ status: 'queued' });
      const next = new WebhookDispatcher({ store: store.github, launcher, source, workDir: root });
      expect(await next.resume()).toBe(1);
      await next.idle();
      expect(launched.map((r) => r.deliveryId)).toEqual(['a', 'b']);
      expect(await store.github.getDelivery('b')).toMatchObject({ status: 'launched' });
      await next.close();
    } finally {
      await store.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
