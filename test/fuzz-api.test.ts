import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/errors/codes.js';
import { jobsConfig } from '../src/jobs/config.js';
import { JobService } from '../src/jobs/service.js';
import { buildApp } from '../src/server/app.js';
import { ServerMetrics } from '../src/server/metrics.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { settledLeftovers } from './leak-check.js';

/** mulberry32: a small seeded RNG, so a failure reproduces. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = Number(process.env.HEARTH_FUZZ_SEED ?? 20240611);
const COUNT = 500;

describe(`API fuzz (seed ${SEED}, ${COUNT} requests): never a 5xx`, () => {
  let app: FastifyInstance;
  let service: JobService;
  let store: SqliteStore;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-fuzz-'));
    store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
    const metrics = new ServerMetrics();
    // A small queue: valid jobs the fuzzer happens to build run for real or get QUEUE_FULL (429).
    service = new JobService({
      store,
      metrics,
      config: { ...jobsConfig({ HEARTH_BACKEND: 'bwrap' }), concurrency: 1, maxQueue: 3, maxCodeBytes: 4096 },
    });
    app = await buildApp({ service, metrics, tokens: [] });
  });
  afterAll(async () => {
    await app.close();
    await service.close({ graceMs: 0 });
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    expect(await settledLeftovers()).toEqual([]);
  });

  it('answers every random request with a registered code and no 5xx', async () => {
    const r = rng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
    const str = (n: number) =>
      Array.from({ length: Math.floor(r() * n) }, () => String.fromCharCode(Math.floor(r() * 0x2500))).join(
        '',
      );
    const value = (depth = 0): unknown => {
      switch (Math.floor(r() * (depth > 2 ? 6 : 9))) {
        case 0:
          return null;
        case 1:
          return r() < 0.5;
        case 2:
          return Math.floor((r() - 0.5) * 1e12);
        case 3:
          return r() * 1e6;
        case 4:
          return str(20);
        case 5:
          return pick(['python', 'py', 'c', 'bash', 'cobol', '', ' ', 'PYTHON']);
        case 6:
          return Array.from({ length: Math.floor(r() * 4) }, () => value(depth + 1));
        default: {
          const keys = [
            'language',
            'code',
            'files',
            'stdin',
            'args',
            'env',
            'limits',
            'backend',
            'version',
            'jobs',
            'timeoutMs',
            'memoryMb',
            'name',
            'content',
            'encoding',
            '__proto__',
            'constructor',
            str(6),
          ];
          return Object.fromEntries(
            Array.from({ length: Math.floor(r() * 5) }, () => [pick(keys), value(depth + 1)]),
          );
        }
      }
    };
    const routes = [
      '/v1/jobs',
      '/v1/jobs?wait=true',
      '/v1/jobs/batch',
      '/v1/jobs/x',
      '/v1/jobs/x/events',
      '/run',
      '/status/x',
      '/v1/languages',
      '/health',
      '/v1/jobs?limit=5&status=queued',
      '/v1/jobs?cursor=zz',
      '/nope',
      `/v1/jobs/${str(8)}`,
      '/openapi.json',
      '/v1/jobs/interactive',
    ];
    const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;
    const types = [
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
      'application/octet-stream',
      '',
    ];
    const bodies = () => {
      const k = r();
      if (k < 0.35) return JSON.stringify(value());
      if (k < 0.55)
        return JSON.stringify({
          language: value(),
          code: value(),
          limits: value(),
          files: value(),
          args: value(),
        });
      if (k < 0.7) return JSON.stringify(value()).slice(0, Math.floor(r() * 30));
      if (k < 0.8) return str(50);
      if (k < 0.9) return JSON.stringify({ language: 'python', code: `print(${Math.floor(r() * 100)})` });
      return '';
    };
    const seen = new Map<number, number>();
    for (let i = 0; i < COUNT; i++) {
      const method = pick(methods);
      const contentType = pick(types);
      const withBody = method !== 'GET' && method !== 'HEAD';
      const res = await app.inject({
        method,
        url: pick(routes),
        ...(withBody ? { payload: bodies() } : {}),
        headers: contentType ? { 'content-type': contentType } : {},
      });
      seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1);
      expect(res.statusCode, `request ${i}: ${method} → ${res.body.slice(0, 200)}`).toBeLessThan(500);
      if (res.statusCode >= 400 && method !== 'HEAD') {
        expect(
          ERROR_CODES,
          `request ${i}: ${method} ${res.statusCode} → ${res.body.slice(0, 200)}`,
        ).toContain(JSON.parse(res.body || '{}').error?.code);
      }
    }
    // The fuzzer reached both sides: accepted requests and refused ones.
    expect([...seen.keys()].some((s) => s < 300)).toBe(true);
    expect([...seen.keys()].some((s) => s >= 400)).toBe(true);
  });
});
