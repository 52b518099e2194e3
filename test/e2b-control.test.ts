import { Sandbox } from 'e2b';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2bServer } from './e2b-fixture.js';
import { settledLeftovers } from './leak-check.js';

// The published `e2b` SDK, unmodified, configured only by E2B_API_URL, E2B_SANDBOX_URL and
// E2B_API_KEY, against a real server on port 0 with real bwrap sandboxes.
let e2b: Awaited<ReturnType<typeof startE2bServer>>;

describe('E2B control plane', () => {
  beforeAll(async () => {
    e2b = await startE2bServer();
  });
  afterAll(async () => {
    await e2b?.close();
    expect(await settledLeftovers()).toEqual([]);
  });

  it('creates, lists, describes, extends and kills a sandbox', async () => {
    const sbx = await Sandbox.create({ metadata: { suite: 'e2b-control' } });
    expect(sbx.sandboxId).toMatch(/^ses-/);
    const info = await sbx.getInfo();
    expect(info).toMatchObject({ sandboxId: sbx.sandboxId, templateId: 'base', state: 'running' });
    const listed = await Sandbox.list({ query: { metadata: { suite: 'e2b-control' } } }).nextItems();
    expect(listed.map((s) => s.sandboxId)).toEqual([sbx.sandboxId]);
    await sbx.setTimeout(120_000);
    const after = await sbx.getInfo();
    expect(after.endAt.getTime()).toBeGreaterThan(Date.now() + 100_000);
    expect(await sbx.isRunning()).toBe(true);
    expect(await sbx.kill()).toBe(true);
    // envd's /health for a sandbox that is gone answers 502, which the SDK reads as not running.
    expect(await sbx.isRunning()).toBe(false);
    expect(await Sandbox.kill(sbx.sandboxId)).toBe(false);
    await expect(Sandbox.connect(sbx.sandboxId)).rejects.toThrow(/not found/i);
  });

  it('pages the list with X-Next-Token', async () => {
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await Sandbox.create({ metadata: { suite: 'paging' } }));
    try {
      const pager = Sandbox.list({ query: { metadata: { suite: 'paging' } }, limit: 2 });
      const first = await pager.nextItems();
      expect(first).toHaveLength(2);
      expect(pager.hasNext).toBe(true);
      const second = await pager.nextItems();
      expect(second).toHaveLength(1);
      expect(pager.hasNext).toBe(false);
      expect([...first, ...second].map((s) => s.sandboxId).sort()).toEqual(
        made.map((s) => s.sandboxId).sort(),
      );
    } finally {
      await Promise.all(made.map((s) => s.kill()));
    }
  });

  it('takes a snapshot, makes a sandbox from it by template id, forks, and deletes the snapshot', async () => {
    const sbx = await Sandbox.create();
    try {
      const snap = await sbx.createSnapshot({ name: 'first' });
      expect(snap.snapshotId).toMatch(/^snap-/);
      const listed = await Sandbox.listSnapshots({ sandboxId: sbx.sandboxId }).nextItems();
      expect(listed.map((s) => s.snapshotId)).toEqual([snap.snapshotId]);
      const child = await Sandbox.create(snap.snapshotId);
      expect(child.sandboxId).not.toBe(sbx.sandboxId);
      expect(await child.kill()).toBe(true);
      const forks = await sbx.fork({ count: 2 });
      expect(forks).toHaveLength(2);
      for (const f of forks) {
        expect(f).not.toBeInstanceOf(Error);
        expect(await (f as Sandbox).kill()).toBe(true);
      }
      expect(await Sandbox.deleteSnapshot(snap.snapshotId)).toBe(true);
      expect(await Sandbox.deleteSnapshot(snap.snapshotId)).toBe(false);
    } finally {
      await sbx.kill();
    }
  });

  it('refuses to pause a sandbox whose backend keeps no memory, saying where it can', async () => {
    const sbx = await Sandbox.create();
    try {
      await expect(sbx.pause()).rejects.toThrow(/cannot pause.*qemu/);
      expect((await sbx.getInfo()).state).toBe('running');
    } finally {
      await sbx.kill();
    }
  });

  it("answers an unknown sandbox and template in E2B's error shape", async () => {
    const url = process.env.E2B_API_URL;
    const headers = { 'x-api-key': 'e2b_local', 'content-type': 'application/json' };
    const info = await fetch(`${url}/sandboxes/ses-nope`, { headers });
    expect(info.status).toBe(404);
    expect(await info.json()).toEqual({ code: 404, message: expect.stringContaining('ses-nope') });
    const bad = await fetch(`${url}/v2/sandboxes`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ templateID: 'no-such-template' }),
    });
    expect(bad.status).toBeGreaterThanOrEqual(400);
    expect(bad.status).toBeLessThan(500);
    expect(await bad.json()).toMatchObject({ code: bad.status, message: expect.any(String) });
    const broken = await fetch(`${url}/v2/sandboxes`, { method: 'POST', headers, body: '{"templateID":' });
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ code: 400 });
    const timeout = await fetch(`${url}/v2/sandboxes`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ templateID: 'base', timeout: -5 }),
    });
    expect(await timeout.json()).toMatchObject({ code: 400, message: expect.stringMatching(/timeout/) });
  });
});

describe('E2B control plane behind API tokens', () => {
  let guarded: Awaited<ReturnType<typeof startE2bServer>>;
  beforeAll(async () => {
    guarded = await startE2bServer({ apiKey: 'right-key', serve: { tokens: ['right-key'] } });
  });
  afterAll(async () => {
    await guarded?.close();
  });

  it('takes a hearth token as X-API-KEY and refuses a wrong one with AuthenticationError', async () => {
    const sbx = await Sandbox.create();
    try {
      expect(await sbx.isRunning()).toBe(true);
      await expect(Sandbox.create({ apiKey: 'wrong-key' })).rejects.toMatchObject({
        name: 'AuthenticationError',
      });
      await expect(Sandbox.list({ apiKey: 'wrong-key' }).nextItems()).rejects.toMatchObject({
        name: 'AuthenticationError',
      });
    } finally {
      await sbx.kill();
    }
  });

  it("refuses the sandbox plane without the sandbox's own token, even with an API token", async () => {
    const sbx = await Sandbox.create();
    try {
      const url = process.env.E2B_SANDBOX_URL;
      const health = (token?: string) =>
        fetch(`${url}/health`, {
          headers: {
            'e2b-sandbox-id': sbx.sandboxId,
            'e2b-sandbox-port': '49983',
            authorization: 'Bearer right-key',
            ...(token ? { 'x-access-token': token } : {}),
          },
        });
      expect((await health()).status).toBe(401);
      expect((await health('ea_forged')).status).toBe(401);
      const info = await Sandbox.getInfo(sbx.sandboxId);
      expect(info.sandboxId).toBe(sbx.sandboxId);
      // hearth's own /health stays open without the header.
      expect((await fetch(`${url}/health`)).status).toBe(200);
      // A sandbox-plane header on one of hearth's own routes buys nothing.
      const jobs = await fetch(`${url}/v1/jobs`, { headers: { 'e2b-sandbox-id': sbx.sandboxId } });
      expect(jobs.status).toBe(401);
    } finally {
      await sbx.kill();
    }
  });
});
