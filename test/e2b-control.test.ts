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
    expect(await Sandbox.kill(sbx.sandboxId)).toBe(false);
    await expect(Sandbox.connect(sbx.sandboxId)).rejects.toThrow(/not found/i);
  });
});
