import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebhookDispatcher } from '../src/github/dispatcher.js';
import { routeEvent } from '../src/github/events.js';
import type { LaunchRequest, WorkflowLauncher } from '../src/github/launcher.js';
import { CommitStatusReporter } from '../src/github/status-reporter.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { makeMirror, REPO, startRecordingApi } from './github-fixture.js';

describe('WebhookDispatcher', () => {
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

  it("reports a run's end as the commit status, and a failed launch as error", async () => {
    const root = mkdtempSync(join(tmpdir(), 'hearth-github-status-'));
    const store = await SqliteStore.open({ path: join(root, 'hearth.db') });
    const api = await startRecordingApi();
    try {
      const shas = makeMirror(root);
      const payload = {
        ref: 'refs/heads/main',
        after: shas.main,
        repository: { full_name: REPO },
        commits: [],
      };
      const routing = routeEvent('push', payload);
      if (routing.kind !== 'runnable') throw new Error('not runnable');
      const common = {
        store: store.github,
        source: { kind: 'mirror' as const, dir: join(root, 'mirror') },
        reporter: new CommitStatusReporter({ token: 't', baseUrl: api.url }),
        workDir: root,
      };
      const ok = new WebhookDispatcher({
        ...common,
        launcher: { launch: async () => ({ id: 'run-1', finished: Promise.resolve('success' as const) }) },
      });
      await ok.accept({ id: 'ok', event: 'push', runnable: routing.event, payload });
      await ok.idle();
      expect(api.calls.map((c) => `${c.body.context} ${c.body.state}`)).toEqual([
        'hearth/CI pending',
        'hearth/CI success',
      ]);
      api.calls.length = 0;
      const broken = new WebhookDispatcher({
        ...common,
        launcher: {
          launch: async () => {
            throw new Error('no runner');
          },
        },
      });
      await broken.accept({ id: 'broken', event: 'push', runnable: routing.event, payload });
      await broken.idle();
      expect(api.calls.map((c) => `${c.body.context} ${c.body.state}`)).toEqual([
        'hearth/CI pending',
        'hearth/CI error',
      ]);
      expect(await store.github.getDelivery('broken')).toMatchObject({
        status: 'failed',
        detail: 'no runner',
      });
      await ok.close();
      await broken.close();
    } finally {
      await store.close();
      await new Promise((resolve) => api.server.close(resolve));
      rmSync(root, { recursive: true, force: true });
    }
  });
});
