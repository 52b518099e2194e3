import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hearthPaths } from '../src/config/paths.js';
import { parseCatalog } from '../src/images/catalog.js';
import { jobsConfig } from '../src/jobs/config.js';
import { JobService } from '../src/jobs/service.js';
import { buildApp } from '../src/server/app.js';
import { ServerMetrics } from '../src/server/metrics.js';
import { SqliteStore } from '../src/store/sqlite-store.js';

// A catalog with one image that was never built, beside the real default image.
const catalog = parseCatalog(`
images:
  default: { suite: bookworm, packages: [python3, bash, libstdc++6, ca-certificates] }
  never-built: { suite: bookworm, packages: [bash, tcsh] }
languages:
  python: { image: default, file: main.py, run: [python3, main.py], version: [python3, --version] }
  tcsh: { image: never-built, file: main.csh, run: [tcsh, main.csh], version: [tcsh, --version] }
`);

describe('a job whose image is not built', () => {
  let dir: string;
  let store: SqliteStore;
  let service: JobService;
  let app: Awaited<ReturnType<typeof buildApp>>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-unbuilt-'));
    store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
    const metrics = new ServerMetrics();
    service = new JobService({ store, catalog, paths: hearthPaths(), config: jobsConfig({}), metrics });
    app = await buildApp({ service, metrics, tokens: [] });
  });
  afterAll(async () => {
    await app?.close();
    await service?.close({ graceMs: 0 });
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is refused at submit with IMAGE_NOT_BUILT and the command that builds it, and nothing is stored', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: { language: 'tcsh', code: 'echo hi' },
    });
    expect(res.statusCode).toBe(503);
    const { error } = res.json() as { error: { code: string; message: string; hint: string } };
    expect(error.code).toBe('IMAGE_NOT_BUILT');
    expect(error.message).toMatch(/never-built/);
    expect(error.hint).toContain('hearth images build never-built');
    expect((await store.list({ limit: 10 })).jobs).toEqual([]);
  });

  it('still runs jobs whose image is built', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/jobs?wait=true',
      payload: { language: 'python', code: 'print(6*7)' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'completed', result: { exitCode: 0, stdout: '42\n' } });
  });
});
