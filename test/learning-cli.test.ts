import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LearningService } from '../src/learning/service.js';
import { ManagerEventBus } from '../src/sandboxes/events.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { CLI, ROOT } from './serve-fixture.js';

const run = promisify(execFile);

/** `hearth learn …` / `hearth validate …` on this host's database (no HEARTH_URL). */
async function hearth(
  db: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, HEARTH_DB: db };
  delete env.HEARTH_URL;
  try {
    const r = await run(process.execPath, [...CLI, ...args], { cwd: ROOT, env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('hearth learn and hearth validate, embedded', () => {
  let dir: string;
  let db: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-learn-cli-'));
    db = join(dir, 'hearth.db');
    const store = await SqliteStore.open({ path: db });
    const learning = new LearningService({ store: store.learning });
    const bus = new ManagerEventBus();
    await learning.start(bus);
    for (let i = 0; i < 4; i++) {
      bus.emit('exec.finished', {
        execId: i,
        sandboxId: `sb-${i}`,
        backend: 'bwrap',
        image: 'default',
        labels: { job: `j-${i}` },
        what: { kind: 'command', shell: 'git pull && make test' },
        startedAtMs: Date.now(),
        durationMs: 5,
        exitCode: 2,
        signal: null,
        timedOut: false,
        stderrHead: `make: *** [Makefile:${10 + i}: test] Error 1\n`,
      });
    }
    await learning.close();
    await store.close();
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stats, predict, related and lessons read the graph', async () => {
    const stats = JSON.parse((await hearth(db, 'learn', 'stats', '--json')).stdout);
    expect(stats.commands.map((c: { command: string }) => c.command)).toEqual(['make']);
    const predict = await hearth(db, 'learn', 'predict', 'make check', '--previous', 'git pull origin');
    expect(predict.stdout).toContain('make after git pull: 0.17 (edge, 4 runs)');
    expect(predict.stdout).toContain('avoid-failure');
    const related = await hearth(db, 'learn', 'related', 'make');
    expect(related.stdout).toMatch(/^git pull\s+4\n$/);
    const lessons = JSON.parse((await hearth(db, 'learn', 'lessons', '--json')).stdout);
    expect(lessons.lessons).toEqual([
      expect.objectContaining({
        command: 'make',
        signature: 'make: *** [Makefile:<n>: test] Error <n>',
        occurrences: 4,
      }),
    ]);
    expect(lessons.lessons[0].confidence).toBeCloseTo(0.9);
  });

  it('validate exits 1 when refused, 0 when valid, 2 on a bad flag', async () => {
    const refused = await hearth(db, 'validate', 'gti push', '--strictness', 'strict');
    expect(refused).toMatchObject({ code: 1 });
    expect(refused.stdout).toContain('did you mean: git');
    expect((await hearth(db, 'validate', 'git push && make')).code).toBe(0);
    const bad = await hearth(db, 'validate', 'x', '--strictness', 'loose');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('VALIDATION_FAILED');
  });
});
