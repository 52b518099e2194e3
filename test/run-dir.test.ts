/**
 * The run dir's mode does not depend on which backend creates it first: after a gVisor sandbox
 * made it (its own per-sandbox dir is 0700), a compiled bwrap job, whose work dir is opened as the
 * job's unprivileged uid, still builds and runs.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadBackend } from '../src/backends/registry.js';
import { hearthPaths, projectRoot } from '../src/config/paths.js';
import { ensureRunDir, RUN_DIR_MODE } from '../src/host/run-dir.js';
import { loadCatalog } from '../src/images/catalog.js';
import { prepareSource } from '../src/images/source.js';

const base = mkdtempSync(join(tmpdir(), 'hearth-run-dir-'));
chmodSync(base, 0o755);
afterAll(() => rmSync(base, { recursive: true, force: true }));

const modeOf = (p: string) => statSync(p).mode & 0o777;

describe('the run dir', () => {
  test('an existing run dir with another mode (an older hearth made it 0700) is set to the fixed mode', () => {
    const run = join(base, 'old', 'run');
    mkdirSync(run, { recursive: true, mode: 0o700 });
    ensureRunDir(run);
    expect(modeOf(run)).toBe(RUN_DIR_MODE);
  });

  test('a fresh run dir nested in missing parents: the run dir gets the fixed mode, its parents 0755', () => {
    const run = join(base, 'a', 'b', 'run');
    ensureRunDir(run);
    expect(modeOf(run)).toBe(RUN_DIR_MODE);
    expect(modeOf(join(base, 'a', 'b'))).toBe(0o755);
  });

  test('a parent that other users cannot pass through is named, not left to fail inside a job', async () => {
    const closed = join(base, 'closed');
    mkdirSync(closed, { mode: 0o700 });
    chmodSync(closed, 0o700);
    const run = join(closed, 'state', 'run');
    ensureRunDir(run); // gVisor's and QEMU's sandboxes are opened by root only: no check
    expect(() => ensureRunDir(run, { othersMustReach: true })).toThrow(
      expect.objectContaining({
        code: 'SANDBOX_START_FAILED',
        message: expect.stringContaining(`${closed} (mode 0700)`),
      }),
    );
    // A compiled job on bwrap (its work dir is opened as the job's uid) fails with that error.
    const c = loadCatalog().languages.c;
    if (!c?.compile) throw new Error('the catalog has no compiled C');
    const bwrap = await loadBackend('bwrap', { paths: { ...hearthPaths(), run } });
    try {
      const steps = [c.compile, c.run].map((argv) => ({ argv, env: c.env }));
      await expect(bwrap.runOnce?.({ image: c.image }, { files: [], steps })).rejects.toMatchObject({
        code: 'SANDBOX_START_FAILED',
        hint: expect.stringContaining('HEARTH_STATE_DIR'),
      });
    } finally {
      await bwrap.close?.();
    }
  });

  test('a gVisor sandbox creates it first, then a C job on bwrap compiles and runs', async () => {
    const paths = { ...hearthPaths(), run: join(base, 'fresh', 'run') };
    const gvisor = await loadBackend('gvisor', { paths });
    const probe = await gvisor.probe();
    expect(probe.usable, `gVisor is installed by .ci/run: ${probe.reason}`).toBe(true);
    const sb = await gvisor.create({ image: 'default' });
    try {
      expect(modeOf(join(paths.run, sb.id))).toBe(0o700);
    } finally {
      await sb.destroy();
      await gvisor.close?.();
    }
    expect(modeOf(paths.run)).toBe(RUN_DIR_MODE);

    const c = loadCatalog().languages.c;
    if (!c) throw new Error('the catalog has no C');
    const code = readFileSync(join(projectRoot(), 'examples', 'hello.c'), 'utf8');
    const files = await prepareSource(c, { code });
    const limits = { timeoutMs: 60_000, memoryMb: 1024, maxOutputBytes: 1 << 16 };
    const steps = [...(c.compile ? [c.compile] : []), c.run].map((argv) => ({ argv, env: c.env, limits }));
    expect(steps.length, 'C has a compile step: the shared work dir under the run dir').toBe(2);
    const bwrap = await loadBackend('bwrap', { paths });
    try {
      const results = await bwrap.runOnce?.(
        { image: c.image, memoryMb: 1024, diskMb: 256 },
        { files, steps },
      );
      const why = results?.map((r) => `exit ${r.exitCode ?? r.signal}: ${r.stderr.toString()}`).join('\n');
      expect(
        results?.map((r) => r.exitCode),
        why,
      ).toEqual([0, 0]);
      expect(results?.[1]?.stdout.toString(), why).toMatch(/^Hello, World!/);
    } finally {
      await bwrap.close?.();
    }
  });
});
