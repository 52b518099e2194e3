/**
 * The RLM surfaces on bwrap with the stand-in model server: POST /v1/rlm/runs (waiting, and as an
 * SSE stream of steps) and GET /v1/rlm/runs/:id on a real Fastify server on port 0; `hearth rlm`
 * as a child process; the rlm_* MCP tools through the MCP SDK's client.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RlmRun } from '../src/api/rlm.js';
import { createMcpServer } from '../src/mcp/server.js';
import { installErrorHandling } from '../src/server/errors.js';
import { rlmRoutes } from '../src/server/routes/rlm.js';
import { settledLeftovers } from './leak-check.js';
import { openRlm, py } from './rlm-fixture.js';
import { ModelStandin } from './rlm-standin.js';
import { CLI, ROOT } from './serve-fixture.js';

let rlm: Awaited<ReturnType<typeof openRlm>>;
const dir = mkdtempSync(join(tmpdir(), 'hearth-rlm-surfaces-'));
beforeAll(async () => {
  rlm = await openRlm();
});
afterAll(async () => {
  await rlm?.close();
  rmSync(dir, { recursive: true, force: true });
  expect(await settledLeftovers()).toEqual([]);
});

const SCRIPT = [py('total = sum(int(x) for x in context.split())\nprint(total)'), 'FINAL_VAR(total)'];

async function serve(root: string[], contextDir?: string): Promise<{ app: FastifyInstance; url: string }> {
  const { service } = await rlm.service({ root, ...(contextDir ? { contextDir } : {}) });
  const app = Fastify();
  installErrorHandling(app);
  await app.register(rlmRoutes, { rlm: service });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url };
}

/** `event: x\ndata: {...}` blocks of a whole SSE body. */
function events(body: string): Array<{ event: string; data: Record<string, unknown> }> {
  return body
    .split('\n\n')
    .filter((b) => b.trim())
    .map((b) => {
      const event = /^event: (.*)$/m.exec(b)?.[1] ?? '';
      const data = JSON.parse(/^data: (.*)$/m.exec(b)?.[1] ?? 'null');
      return { event, data };
    });
}

describe('rlm over HTTP', () => {
  it('streams the steps as SSE, then the run; GET replays the steps in order', async () => {
    const { app, url } = await serve(SCRIPT);
    try {
      const res = await fetch(`${url}/v1/rlm/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ query: 'sum', context: '1 2 3 4', backend: 'bwrap' }),
      });
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      const ev = events(await res.text());
      expect(ev.map((e) => e.event)).toEqual(['run', 'step', 'step', 'result']);
      expect(ev[1]?.data.output).toBe('10\n');
      const run = ev[3]?.data as unknown as RlmRun;
      expect(run.answer).toBe('10');
      expect(run.stopReason).toBe('final');
      const again = (await (await fetch(`${url}/v1/rlm/runs/${run.id}`)).json()) as RlmRun & {
        children: string[];
      };
      expect(again.steps.map((s) => s.index)).toEqual([1, 2]);
      expect(again.steps[0]?.modelText).toBe(SCRIPT[0]);
      expect(again.children).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('a reader that goes away mid-stream cancels the run, and its session is freed', async () => {
    const { app, url } = await serve(
      Array.from({ length: 30 }, () => py('import time\ntime.sleep(0.3)\nprint("tick")')),
    );
    try {
      const ctrl = new AbortController();
      const res = await fetch(`${url}/v1/rlm/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ query: 'slow', context: 'x', backend: 'bwrap' }),
        signal: ctrl.signal,
      });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let seen = '';
      while (!seen.includes('event: step')) seen += new TextDecoder().decode((await reader.read()).value);
      const runId = String(events(seen.slice(0, seen.indexOf('\n\n') + 2))[0]?.data.id);
      ctrl.abort();
      let run = await rlm.store.rlm.getRun(runId);
      for (let i = 0; i < 200 && run?.state !== 'finished'; i++) {
        await new Promise((r) => setTimeout(r, 50));
        run = await rlm.store.rlm.getRun(runId);
      }
      expect(run?.stopReason).toBe('cancelled');
      expect(run?.steps.length).toBeLessThan(30);
      expect(await rlm.openSessions()).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('without SSE waits and answers the run; bad requests are 4xx with codes', async () => {
    const ctxDir = join(dir, 'contexts');
    mkdirSync(ctxDir);
    writeFileSync(join(ctxDir, 'numbers.txt'), '5 6 7');
    writeFileSync(join(dir, 'outside.txt'), '1');
    const { app, url } = await serve(SCRIPT, ctxDir);
    const post = (body: object) =>
      fetch(`${url}/v1/rlm/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    try {
      const ok = await post({ query: 'sum', contextFile: join(ctxDir, 'numbers.txt'), backend: 'bwrap' });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as RlmRun).answer).toBe('18');
      const outside = await post({ query: 'sum', contextFile: join(dir, 'outside.txt') });
      expect(outside.status).toBe(403);
      expect(((await outside.json()) as { error: { code: string } }).error.code).toBe(
        'RLM_CONTEXT_FILE_REFUSED',
      );
      // Refused before a stream is opened: a 4xx, not an `error` event in a 200 stream.
      const streamed = await fetch(`${url}/v1/rlm/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ query: 'sum', contextFile: join(ctxDir, 'missing.txt') }),
      });
      expect(streamed.status).toBe(403);
      expect(((await streamed.json()) as { error: { code: string } }).error.code).toBe(
        'RLM_CONTEXT_FILE_REFUSED',
      );
      const both = await post({ query: 'q', context: 'x', contextFile: join(ctxDir, 'numbers.txt') });
      expect(both.status).toBe(400);
      const badBudget = await post({ query: 'q', budgets: { maxTokens: 0 } });
      expect(badBudget.status).toBe(400);
      const missing = await fetch(`${url}/v1/rlm/runs/nope`);
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('RLM_RUN_NOT_FOUND');
      expect(await rlm.openSessions()).toEqual([]);
    } finally {
      await app.close();
    }
  });
});

describe('hearth rlm', () => {
  it('shows the steps live on stderr and the answer on stdout', async () => {
    const standin = await ModelStandin.start({ root: SCRIPT });
    const file = join(dir, 'cli-context.txt');
    writeFileSync(file, '10 20 30');
    const state = join(dir, 'cli-state');
    mkdirSync(state);
    try {
      const { code, stdout, stderr } = await new Promise<{
        code: number | null;
        stdout: string;
        stderr: string;
      }>((resolve) => {
        const child = spawn(
          process.execPath,
          [...CLI, 'rlm', 'add them up', '--context', file, '--backend', 'bwrap', '--max-iterations', '5'],
          {
            cwd: ROOT,
            env: {
              ...process.env,
              HEARTH_STATE_DIR: state,
              OPENAI_BASE_URL: standin.url,
              HEARTH_RLM_MODEL: 'root-model',
              HEARTH_RLM_SUB_MODEL: 'sub-model',
            },
          },
        );
        let out = '';
        let err = '';
        child.stdout.on('data', (c) => (out += c));
        child.stderr.on('data', (c) => (err += c));
        child.on('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
      });
      expect(stderr).toMatch(/── step 1: .*tokens, 0 sub-calls/);
      expect(stderr).toContain('out:   60');
      expect(stderr).toContain('stop: final; 2 steps');
      expect(stdout).toBe('60\n');
      expect(code).toBe(0);
    } finally {
      await standin.close();
    }
  });
});

describe('rlm MCP tools', () => {
  it('rlm_context, rlm_code, rlm_bash, rlm_snapshot, rlm_query and rlm_status through the MCP client', async () => {
    const { service } = await rlm.service({ root: SCRIPT });
    const server = createMcpServer(rlm.sessions, { rlm: service });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.connect(a);
    const client = new Client({ name: 'rlm-test', version: '1' });
    await client.connect(b);
    type Answer = { content: Array<{ type: string; text: string }>; isError?: boolean };
    const call = async (name: string, args: object) => {
      const r = (await client.callTool({ name, arguments: args as Record<string, unknown> })) as Answer;
      const text = r.content[0]?.text ?? '';
      return { ...r, text, json: r.isError ? null : JSON.parse(text) };
    };
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      for (const n of ['rlm_code', 'rlm_bash', 'rlm_query', 'rlm_context', 'rlm_snapshot', 'rlm_status']) {
        expect(names).toContain(n);
      }
      const ctx = await call('rlm_context', { context: { rows: [1, 2, 3] }, backend: 'bwrap' });
      const sessionId = ctx.json.sessionId as string;
      expect(ctx.json.description).toBe('a Python dict of length 1');
      expect((await call('rlm_code', { sessionId, code: 'print(sum(context["rows"]))' })).json.stdout).toBe(
        '6\n',
      );
      // The client is the root model; its code asks the sub model over the sandbox's own channel.
      expect(ctx.json.subModel).toBe(true);
      const asked = await call('rlm_code', {
        sessionId,
        code: 'print(llm_query("FIND needle\\nhay\\na needle here\\nhay"), llm_query_batched(["FIND x\\nno", "FIND y\\nyes y"]))',
      });
      expect(asked.json.stdout).toBe("a needle here ['NONE', 'yes y']\n");
      expect(
        (await call('rlm_bash', { sessionId, cmd: 'echo one > /work/f.txt && cat /work/f.txt' })).json.stdout,
      ).toBe('one\n');
      expect((await call('rlm_snapshot', { sessionId, action: 'save', name: 'a' })).isError).toBeFalsy();
      await call('rlm_bash', { sessionId, cmd: 'echo two > /work/f.txt' });
      expect((await call('rlm_snapshot', { sessionId, action: 'list' })).json.names).toEqual(['a']);
      expect((await call('rlm_snapshot', { sessionId, action: 'rollback', name: 'a' })).json.rolledBack).toBe(
        'a',
      );
      expect((await call('rlm_bash', { sessionId, cmd: 'cat /work/f.txt' })).json.stdout).toBe('one\n');
      const missing = await call('rlm_snapshot', { sessionId, action: 'rollback', name: 'zz' }).catch(
        () => undefined,
      );
      expect(missing?.isError).toBe(true);
      await rlm.sessions.deleteSession(sessionId);

      const q = await call('rlm_query', { query: 'sum', context: '2 3', backend: 'bwrap' });
      expect(q.json.answer).toBe('5');
      expect(q.json.stopReason).toBe('final');
      const status = await call('rlm_status', { runId: q.json.runId });
      expect(status.json.steps).toHaveLength(2);
      expect(await rlm.openSessions()).toEqual([]);
    } finally {
      await client.close();
      await server.close();
    }
  });
});
