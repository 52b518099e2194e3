import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hearthPaths } from '../src/config/paths.js';
import { jobsConfig } from '../src/jobs/config.js';
import { JobService } from '../src/jobs/service.js';
import type { JobResult } from '../src/jobs/types.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { leftovers, settledLeftovers } from './leak-check.js';

// Real bwrap sandboxes: close({ graceMs: 0 }) while every kind of work is in flight frees it all.
describe('JobService.close with work in flight', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function open(env: NodeJS.ProcessEnv = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-shutdown-'));
    dirs.push(dir);
    const store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
    const config = jobsConfig({ HEARTH_BACKEND: 'bwrap', ...env });
    const service = new JobService({ store, config, paths: hearthPaths() });
    return { store, service };
  }

  it('graceMs 0: running one-shot and compiled jobs are INTERRUPTED, queued ones stay queued, interactive jobs, the pool and the language probe end', async () => {
    const { store, service } = await open({ HEARTH_CONCURRENCY: '2' });
    const sleeper = await service.submit({ language: 'python', code: 'import time\ntime.sleep(30)' });
    const compiled = await service.submit({
      language: 'c',
      code: '#include <unistd.h>\nint main(void) { sleep(30); return 0; }',
    });
    const queued = await service.submit({ language: 'python', code: 'print(1)' });
    const waiting = service.wait(queued.id);
    const stages: string[] = [];
    const interactive = service.openInteractive(
      { language: 'python', code: 'import sys\nsys.stdin.read()' },
      { onStage: (s) => stages.push(s) },
    );
    const outcome = interactive.result.then(
      (r: JobResult) => ({ ok: r }),
      (err: unknown) => ({ err }),
    );
    void service.languages.list(); // starts the background version probe
    // Until both one-shot jobs and the interactive program run in live sandboxes.
    for (let i = 0; i < 400; i++) {
      const running = (await service.get(sleeper.id)).status === 'running';
      const compiling = (await service.get(compiled.id)).status === 'running';
      if (running && compiling && stages.includes('run')) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(stages).toContain('run');
    expect(leftovers().some((l) => l.startsWith('process '))).toBe(true);

    await service.close({ graceMs: 0 });
    await service.close({ graceMs: 0 });

    expect(await settledLeftovers()).toEqual([]);
    for (const id of [sleeper.id, compiled.id]) {
      expect(await service.get(id)).toMatchObject({ status: 'error', error: { code: 'INTERRUPTED' } });
    }
    // Left queued in the store for the next start; whoever waited hears it now.
    expect((await waiting).status).toBe('queued');
    expect((await store.get(queued.id))?.status).toBe('queued');
    expect(await outcome).toHaveProperty('err');
    expect(() => service.openInteractive({ language: 'python', code: 'print(1)' }, {})).toThrow(
      expect.objectContaining({ code: 'SHUTTING_DOWN' }),
    );
    await store.close();
  }, 60_000);

  it('a closed interactive job frees its own sandbox at once; the pool frees its ready one at close()', async () => {
    const { store, service } = await open();
    let sandboxId = '';
    let onStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      onStarted = resolve;
    });
    const job = service.openInteractive(
      { language: 'bash', code: 'sleep 30' },
      {
        onRuntime: (info) => {
          sandboxId = info.sandboxId;
          onStarted();
        },
      },
    );
    job.result.catch(() => {});
    await started;
    await job.close();
    expect(sandboxId).toMatch(/^bwrap-/);
    expect((await settledLeftovers()).filter((l) => l.includes(sandboxId))).toEqual([]);
    await service.close({ graceMs: 0 });
    expect(await settledLeftovers()).toEqual([]);
    await store.close();
  }, 60_000);
});
