import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hearthPaths } from '../src/config/paths.js';
import type { ExecStartedEvent } from '../src/sandboxes/events.js';
import { ExecutionEnvironment } from '../src/sdk/execution-environment.js';
import { type RunningServer, startServer } from '../src/server/start.js';
import { settledLeftovers } from './leak-check.js';

/** A real server on port 0, bwrap sandboxes, its database in `dir` (kept across restarts). */
async function serve(dir: string): Promise<RunningServer> {
  return startServer({
    port: 0,
    paths: { ...hearthPaths(), state: dir, db: join(dir, 'hearth.db'), snapshots: join(dir, 'snapshots') },
    logger: false,
    shutdownGraceMs: 0,
  });
}

async function api<T>(
  server: RunningServer,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

describe('learning through a real server (bwrap)', () => {
  let dir: string;
  let server: RunningServer;
  const backend = process.env.HEARTH_BACKEND;

  beforeAll(async () => {
    process.env.HEARTH_BACKEND = 'bwrap';
    dir = mkdtempSync(join(tmpdir(), 'hearth-learning-server-'));
    server = await serve(dir);
  });

  afterAll(async () => {
    await server?.close();
    if (backend === undefined) delete process.env.HEARTH_BACKEND;
    else process.env.HEARTH_BACKEND = backend;
    rmSync(dir, { recursive: true, force: true });
    expect(await settledLeftovers({ ownerPids: [process.pid] })).toEqual([]);
  });

  it('a session command ends up in the graph, and the graph survives a restart', async () => {
    const created = await api<{ id: string }>(server, 'POST', '/v1/sessions', { language: 'python' });
    expect(created).toMatchObject({ status: 201 });
    const id = created.body.id;
    const run = (cmd: string) =>
      api<{ exitCode: number }>(server, 'POST', `/v1/sessions/${id}/commands`, { cmd });
    const nproc = () =>
      api<{ isValid: boolean; unknownTerms: string[] }>(server, 'POST', '/v1/validate', {
        input: 'nproc',
        strictness: 'strict',
      });
    expect((await nproc()).body).toMatchObject({ isValid: false, unknownTerms: ['nproc'] });
    expect((await run('ls /nonexistent-dir-xyz')).body.exitCode).not.toBe(0);
    expect((await run('mkdir -p /tmp/w && ls /tmp/w && nproc')).body.exitCode).toBe(0);
    await server.learning.recorder.flush();
    const commands = await api<{ commands: Array<{ command: string; successes: number; failures: number }> }>(
      server,
      'GET',
      '/v1/learning/commands',
    );
    expect(commands.body.commands).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ command: 'ls', successes: 1, failures: 1 }),
        expect.objectContaining({ command: 'mkdir', successes: 1, failures: 0 }),
      ]),
    );
    const edge = await api<{ basis: string; evidence: number }>(
      server,
      'GET',
      '/v1/learning/predict?command=ls&previous=mkdir%20-p%20x',
    );
    expect(edge.body).toMatchObject({ basis: 'edge', evidence: 1 });
    expect((await api(server, 'DELETE', `/v1/sessions/${id}`)).status).toBe(204);

    await server.close();
    server = await serve(dir);
    const after = await api<{ probability: number; evidence: number; basis: string }>(
      server,
      'GET',
      '/v1/learning/predict?command=ls%20-la&previous=ls%20/x',
    );
    // No ls → ls edge was seen (the failing ls came first): the node's 1 success and 1 failure.
    expect(after.body).toMatchObject({ basis: 'node', evidence: 2, probability: 2 / 4 });
    const related = await api<{ related: Array<{ command: string; count: number }> }>(
      server,
      'GET',
      '/v1/learning/related?command=ls',
    );
    // ls → mkdir and mkdir → ls, then ls → nproc.
    expect(related.body.related).toEqual([
      { command: 'mkdir', count: 2 },
      { command: 'nproc', count: 1 },
    ]);
    // A command that succeeded is learned vocabulary, loaded again after the restart.
    expect((await nproc()).body).toMatchObject({ isValid: true, unknownTerms: [] });
  });

  it('strict validation refuses before any sandbox is created or any command runs', async () => {
    const started: ExecStartedEvent[] = [];
    const off = server.manager.events.on('exec.started', (e) => started.push(e));
    try {
      const sandboxesBefore = server.manager.list().length;
      const job = await api<{ error: { code: string; unknownTerms: string[]; suggestions: string[] } }>(
        server,
        'POST',
        '/v1/jobs?wait=true',
        { language: 'bash', code: 'gti status\nfrobnicate --all\n', validate: 'strict' },
      );
      expect(job.status).toBe(422);
      expect(job.body.error).toMatchObject({ code: 'INPUT_REJECTED', unknownTerms: ['gti', 'frobnicate'] });
      expect(job.body.error.suggestions).toContain('git');
      expect(server.manager.list().length).toBe(sandboxesBefore);
      expect(started).toEqual([]);
      const jobs = await api<{ jobs: unknown[] }>(server, 'GET', '/v1/jobs');
      expect(jobs.body.jobs).toEqual([]);

      // A session command: refused before the session's sandbox hears of it.
      const s = await api<{ id: string }>(server, 'POST', '/v1/sessions', { language: 'python' });
      expect(s).toMatchObject({ status: 201 });
      const refused = await api<{ error: { code: string } }>(
        server,
        'POST',
        `/v1/sessions/${s.body.id}/commands`,
        {
          cmd: 'frobnicate --all',
          validate: 'strict',
        },
      );
      expect(refused.status).toBe(422);
      expect(refused.body.error.code).toBe('INPUT_REJECTED');
      expect(started).toEqual([]);
      // Normal lets an unknown word through when nothing known is near it; it runs (and fails).
      const normal = await api<{ exitCode: number }>(server, 'POST', `/v1/sessions/${s.body.id}/commands`, {
        cmd: 'frobnicate --all',
        validate: 'normal',
      });
      expect(normal.status).toBe(200);
      expect(started.length).toBe(1);
      await api(server, 'DELETE', `/v1/sessions/${s.body.id}`);
    } finally {
      off();
    }
  });

  it("the SDK's ExecutionEnvironment.validate asks the server", async () => {
    const env = new ExecutionEnvironment({ baseUrl: server.url });
    const r = await env.validate('git comit -m x', { strictness: 'normal' });
    expect(r).toMatchObject({
      configured: true,
      valid: false,
      unknownTerms: ['git comit'],
      strictness: 'normal',
    });
    expect(r.suggestions[0]).toBe('git commit');
    const bad = await api<{ error: { code: string } }>(server, 'POST', '/v1/validate', {
      input: 'x',
      strictness: 'loose',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('malformed requests answer 4xx with a code, never 5xx', async () => {
    const cases: Array<[string, string, unknown, number]> = [
      ['POST', '/v1/validate', {}, 400],
      ['POST', '/v1/validate', { input: 42 }, 400],
      ['POST', '/v1/validate', { input: 'ls', extra: true }, 400],
      ['POST', '/v1/validate', { input: 'x'.repeat(1_048_577) }, 400],
      ['GET', '/v1/learning/predict', undefined, 400],
      ['GET', '/v1/learning/predict?command=', undefined, 400],
      ['GET', '/v1/learning/related?command=ls&limit=0', undefined, 400],
      ['GET', '/v1/learning/lessons?bogus=1', undefined, 400],
      ['GET', '/v1/learning/commands?limit=abc', undefined, 400],
      ['POST', '/v1/jobs', { language: 'bash', code: 'ls', validate: 'loose' }, 400],
    ];
    for (const [method, path, body, status] of cases) {
      const r = await api<{ error: { code: string; hint: string } }>(server, method, path, body);
      expect({ path, status: r.status }).toEqual({ path, status });
      expect(r.body.error.code).toMatch(/^[A-Z_]+$/);
    }
    const raw = await fetch(`${server.url}/v1/validate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"input": ',
    });
    expect(raw.status).toBe(400);
    // Whatever bytes come, validation answers.
    const junk = await api<{ isValid: boolean }>(server, 'POST', '/v1/validate', {
      input: `\u0000\u{1F600}$(${'('.repeat(5000)}'"\\\n;&&||`,
      strictness: 'strict',
    });
    expect(junk.status).toBe(200);
  });
});
