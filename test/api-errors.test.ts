import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hearthPaths } from '../src/config/paths.js';
import { ERROR_CODES, ERROR_STATUS } from '../src/errors/codes.js';
import { jobsConfig } from '../src/jobs/config.js';
import { JobService } from '../src/jobs/service.js';
import { buildApp } from '../src/server/app.js';
import { ServerMetrics } from '../src/server/metrics.js';
import { startServer } from '../src/server/start.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { settledLeftovers } from './leak-check.js';

async function open(env: NodeJS.ProcessEnv, tokens: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-api-'));
  const store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
  const metrics = new ServerMetrics();
  const service = new JobService({ store, config: jobsConfig(env), metrics });
  const app = await buildApp({ service, metrics, tokens });
  return {
    app,
    service,
    async close() {
      await app.close();
      await service.close({ graceMs: 0 });
      await store.close();
      rmSync(dir, { recursive: true, force: true });
      expect(await settledLeftovers()).toEqual([]);
    },
  };
}

const post = (app: FastifyInstance, url: string, body: unknown, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'POST',
    url,
    payload: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });

describe('API: bad input gets a 4xx with a registered code', () => {
  let ctx: Awaited<ReturnType<typeof open>>;
  beforeAll(async () => {
    ctx = await open({ HEARTH_MAX_CODE_BYTES: '1000', HEARTH_MAX_BATCH: '3' });
  });
  afterAll(() => ctx.close());

  const cases: Array<[string, () => ReturnType<typeof post>, number, string]> = [
    [
      'unknown language lists the supported ones',
      () => post(ctx.app, '/v1/jobs', { language: 'cobol', code: 'x' }),
      400,
      'UNKNOWN_LANGUAGE',
    ],
    ['blank code', () => post(ctx.app, '/v1/jobs', { language: 'python', code: ' \n\t' }), 400, 'EMPTY_CODE'],
    ['no code at all', () => post(ctx.app, '/v1/jobs', { language: 'python' }), 400, 'EMPTY_CODE'],
    [
      'code over the cap',
      () => post(ctx.app, '/v1/jobs', { language: 'python', code: 'x'.repeat(1001) }),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    [
      'body over the limit',
      () => post(ctx.app, '/v1/jobs', { language: 'python', code: 'x'.repeat(2_000_000) }),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    ['malformed JSON', () => post(ctx.app, '/v1/jobs', '{"language": "python", '), 400, 'INVALID_JSON'],
    ['empty JSON body', () => post(ctx.app, '/v1/jobs', ''), 400, 'INVALID_JSON'],
    [
      'text/plain body',
      () => post(ctx.app, '/v1/jobs', 'print(1)', { 'content-type': 'text/plain' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'unknown field',
      () => post(ctx.app, '/v1/jobs', { language: 'python', code: 'x', nope: 1 }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'wrong type',
      () => post(ctx.app, '/v1/jobs', { language: 'python', code: 42 }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'timeout above the maximum',
      () => post(ctx.app, '/v1/jobs', { language: 'python', code: 'x', limits: { timeoutMs: 60_001 } }),
      400,
      'LIMIT_TOO_HIGH',
    ],
    [
      'memory above the maximum',
      () => post(ctx.app, '/v1/jobs', { language: 'python', code: 'x', limits: { memoryMb: 4096 } }),
      400,
      'LIMIT_TOO_HIGH',
    ],
    [
      'zero limit',
      () => post(ctx.app, '/v1/jobs', { language: 'python', code: 'x', limits: { maxProcesses: 0 } }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'unknown backend',
      () => post(ctx.app, '/v1/jobs', { language: 'python', code: 'x', backend: 'docker' }),
      400,
      'UNKNOWN_BACKEND',
    ],
    [
      'file escaping the work dir',
      () => post(ctx.app, '/v1/jobs', { language: 'python', files: [{ name: '../x.py', content: 'x' }] }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'bad env name',
      () => post(ctx.app, '/v1/jobs', { language: 'python', code: 'x', env: { 'A=B': '1' } }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'batch over the cap',
      () => post(ctx.app, '/v1/jobs/batch', { jobs: [1, 2, 3, 4] }),
      400,
      'BATCH_TOO_LARGE',
    ],
    [
      'classic /run blank code',
      () => post(ctx.app, '/run', { language: 'python', code: '' }),
      400,
      'EMPTY_CODE',
    ],
    [
      'classic /run unsupported language',
      () => post(ctx.app, '/run', { language: 'cobol', code: 'x' }),
      400,
      'UNKNOWN_LANGUAGE',
    ],
    [
      'unknown job id',
      () => ctx.app.inject({ method: 'GET', url: '/v1/jobs/no-such-job' }),
      404,
      'JOB_NOT_FOUND',
    ],
    [
      'cancel of an unknown job',
      () => ctx.app.inject({ method: 'DELETE', url: '/v1/jobs/no-such-job' }),
      404,
      'JOB_NOT_FOUND',
    ],
    [
      'events of an unknown job',
      () => ctx.app.inject({ method: 'GET', url: '/v1/jobs/no-such-job/events' }),
      404,
      'JOB_NOT_FOUND',
    ],
    [
      'classic status of an unknown id',
      () => ctx.app.inject({ method: 'GET', url: '/status/nope' }),
      404,
      'JOB_NOT_FOUND',
    ],
    ['unknown route', () => ctx.app.inject({ method: 'GET', url: '/v2/nothing' }), 404, 'ROUTE_NOT_FOUND'],
    [
      'bad list filter',
      () => ctx.app.inject({ method: 'GET', url: '/v1/jobs?status=done' }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'forged cursor',
      () => ctx.app.inject({ method: 'GET', url: '/v1/jobs?cursor=abc' }),
      400,
      'VALIDATION_FAILED',
    ],
  ];

  for (const [name, send, status, code] of cases) {
    it(name, async () => {
      const res = await send();
      expect(res.statusCode).toBe(status);
      const body = res.json();
      expect(body.error.code).toBe(code);
      expect(ERROR_CODES).toContain(body.error.code);
      expect(body.error.hint.length).toBeGreaterThan(0);
    });
  }

  it('names the supported languages in the unknown-language message', async () => {
    const res = await post(ctx.app, '/run', { language: 'cobol', code: 'x' });
    expect(res.json().error.message).toMatch(/python/);
    expect(res.json().error.supported).toContain('python');
  });

  it('names the maximum in LIMIT_TOO_HIGH', async () => {
    const res = await post(ctx.app, '/v1/jobs', {
      language: 'python',
      code: 'x',
      limits: { timeoutMs: 61_000 },
    });
    expect(res.json().error.message).toContain('60000');
  });

  it('answers a batch item by item', async () => {
    const res = await post(ctx.app, '/v1/jobs/batch', {
      jobs: [
        { language: 'cobol', code: 'x' },
        { language: 'python', code: '' },
      ],
    });
    expect(res.statusCode).toBe(202);
    expect(res.json().map((i: { error: { code: string } }) => i.error.code)).toEqual([
      'UNKNOWN_LANGUAGE',
      'EMPTY_CODE',
    ]);
  });

  it('serves an OpenAPI document built from the route schemas', async () => {
    const doc = (await ctx.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/jobs', '/v1/jobs/{id}', '/run', '/status/{id}']),
    );
    expect(
      doc.paths['/v1/jobs'].post.requestBody.content['application/json'].schema.properties.language,
    ).toBeDefined();
  });
});

describe('API: bearer tokens', () => {
  let ctx: Awaited<ReturnType<typeof open>>;
  beforeAll(async () => {
    ctx = await open({}, ['s3cret', 'other']);
  });
  afterAll(() => ctx.close());

  it('refuses a missing or wrong token with 401 and accepts a right one', async () => {
    const none = await ctx.app.inject({ method: 'GET', url: '/v1/jobs' });
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe('UNAUTHORIZED');
    const wrong = await ctx.app.inject({
      method: 'GET',
      url: '/v1/jobs',
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.statusCode).toBe(401);
    const post401 = await post(ctx.app, '/run', { language: 'python', code: 'x' });
    expect(post401.statusCode).toBe(401);
    const ok = await ctx.app.inject({
      method: 'GET',
      url: '/v1/jobs',
      headers: { authorization: 'Bearer other' },
    });
    expect(ok.statusCode).toBe(200);
    expect((await ctx.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('refuses to listen beyond loopback without tokens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-api-'));
    try {
      await expect(
        startServer({ host: '0.0.0.0', port: 0, tokens: [], paths: { ...paths(dir) }, logger: false }),
      ).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function paths(dir: string) {
  return hearthPaths({ HEARTH_HOME: dir });
}

describe('docs/api.md', () => {
  it('lists every error code with its status', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'api.md'), 'utf8');
    for (const code of ERROR_CODES) expect(doc).toContain(`| \`${code}\` | ${ERROR_STATUS[code]} |`);
  });
});
