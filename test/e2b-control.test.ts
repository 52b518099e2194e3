import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sandbox } from 'e2b';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hearthPaths } from '../src/config/paths.js';
import { type RunningServer, startServer } from '../src/server/start.js';
import { settledLeftovers } from './leak-check.js';

// The published `e2b` SDK, unmodified, configured only by E2B_API_URL, E2B_SANDBOX_URL and
// E2B_API_KEY, against a real server on port 0 with real bwrap sandboxes.
let server: RunningServer;
let dir: string;

describe('E2B control plane', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-e2b-'));
    process.env.HEARTH_BACKEND = 'bwrap';
    server = await startServer({
      port: 0,
      paths: { ...hearthPaths(), state: dir, db: join(dir, 'hearth.db'), snapshots: join(dir, 'snapshots') },
      logger: false,
      shutdownGraceMs: 0,
    });
    process.env.E2B_API_URL = server.url;
    process.env.E2B_SANDBOX_URL = server.url;
    process.env.E2B_API_KEY = 'e2b_local';
  });
  afterAll(async () => {
    await server?.close();
    delete process.env.HEARTH_BACKEND;
    rmSync(dir, { recursive: true, force: true });
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
    expect(await Sandbox.kill(sbx.sandboxId)).toBe(false);
    await expect(Sandbox.connect(sbx.sandboxId)).rejects.toThrow(/not found/i);
  });
});
