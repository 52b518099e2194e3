import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installBrowserGuard } from '../src/server/browser-guard.js';
import { installErrorHandling } from '../src/server/errors.js';
import { mcpRoutes } from '../src/server/routes/mcp.js';
import { CLI, ROOT } from './serve-fixture.js';
import { type SessionServer, startSessionServer } from './session-server-fixture.js';

type ToolAnswer = { content: Array<{ type: string; text?: string; data?: string }>; isError?: boolean };

const textOf = (r: ToolAnswer) => r.content.find((c) => c.type === 'text')?.text ?? '';
const jsonOf = (r: ToolAnswer) => JSON.parse(textOf(r));

/** The official MCP Inspector's CLI, a client we did not write. */
const require = createRequire(import.meta.url);
const INSPECTOR = require.resolve('@modelcontextprotocol/inspector-cli/build/cli.js');

function inspector(args: string[], env: NodeJS.ProcessEnv = {}, owners: number[] = []): Promise<ToolAnswer> {
  return new Promise((resolve, reject) => {
    // It looks for its own package.json relative to the working directory: run it from its build dir.
    const child = spawn(process.execPath, [INSPECTOR, '--cli', ...args], {
      cwd: dirname(INSPECTOR),
      env: { ...process.env, ...env },
    });
    if (child.pid !== undefined) owners.push(child.pid);
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`inspector exited ${code}: ${err}`));
      else resolve(JSON.parse(out) as ToolAnswer);
    });
  });
}

describe('MCP server', () => {
  let server: SessionServer;
  let mcpUrl: string;

  beforeAll(async () => {
    server = await startSessionServer();
    // `hearth serve` mounts the MCP endpoint at /mcp; its tools act on the server's own sessions.
    mcpUrl = `${server.url}/mcp`;
  });
  afterAll(async () => {
    expect(await server.close()).toEqual([]);
  });

  async function httpClient(token = server.token): Promise<Client> {
    const client = new Client({ name: 'hearth-test', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    });
    await client.connect(transport);
    return client;
  }

  const call = async (c: Client, name: string, args: Record<string, unknown> = {}) =>
    (await c.callTool({ name, arguments: args })) as ToolAnswer;

  it('lists the tools with the API schemas; every session tool takes the session id', async () => {
    const c = await httpClient();
    try {
      const { tools } = await c.listTools();
      const names = tools.map((t) => t.name).sort();
      expect(names).toEqual(
        [
          'list_files',
          'read_file',
          'run_code',
          'run_command',
          'session_create',
          'session_end',
          'session_extend',
          'session_status',
          'snapshot_create',
          'snapshot_delete',
          'snapshot_list',
          'snapshot_restore',
          'write_file',
          // The server has an RLM service, so the RLM tools are served too.
          'rlm_bash',
          'rlm_code',
          'rlm_context',
          'rlm_query',
          'rlm_snapshot',
          'rlm_status',
        ].sort(),
      );
      const runCode = tools.find((t) => t.name === 'run_code');
      expect(runCode?.inputSchema.required).toEqual(expect.arrayContaining(['sessionId', 'code']));
    } finally {
      await c.close();
    }
  });

  it('over stateless HTTP: a session made by one client is used by the next, through every tool', async () => {
    const a = await httpClient();
    const created = jsonOf(
      await call(a, 'session_create', { language: 'python', metadata: { suite: 'mcp' } }),
    );
    await a.close();
    const id = created.id as string;
    expect(created.state).toBe('running');

    const b = await httpClient();
    try {
      await call(b, 'run_code', { sessionId: id, code: 'x = 41' });
      const code = jsonOf(await call(b, 'run_code', { sessionId: id, code: 'print("hi")\nx + 1' }));
      expect(code).toMatchObject({ stdout: 'hi\n', result: { text: '42' }, error: null });
      const err = await call(b, 'run_code', { sessionId: id, code: 'raise ValueError("bad")' });
      expect(err.isError).toBe(true);
      expect(jsonOf(err).error).toMatchObject({ name: 'ValueError', value: 'bad' });

      const cmd = jsonOf(await call(b, 'run_command', { sessionId: id, cmd: 'echo out; exit 3' }));
      expect(cmd).toMatchObject({ exitCode: 3, stdout: 'out\n' });

      await call(b, 'write_file', { sessionId: id, path: 'notes/a.txt', content: 'hello' });
      const bin = Buffer.from([0, 255, 1]).toString('base64');
      await call(b, 'write_file', { sessionId: id, path: 'notes/b.bin', content: bin, encoding: 'base64' });
      expect(textOf(await call(b, 'read_file', { sessionId: id, path: 'notes/a.txt' }))).toBe('hello');
      expect(
        textOf(await call(b, 'read_file', { sessionId: id, path: 'notes/b.bin', encoding: 'base64' })),
      ).toBe(bin);
      const listed = jsonOf(await call(b, 'list_files', { sessionId: id, path: 'notes' }));
      expect(listed.entries.map((e: { name: string }) => e.name).sort()).toEqual(['a.txt', 'b.bin']);

      expect(jsonOf(await call(b, 'session_status', { sessionId: id }))).toMatchObject({
        id,
        backend: 'bwrap',
      });
      const all = jsonOf(await call(b, 'session_status'));
      expect(all.sessions.map((s: { id: string }) => s.id)).toContain(id);

      await call(b, 'session_end', { sessionId: id });
      const gone = await call(b, 'session_status', { sessionId: id });
      expect(gone.isError).toBe(true);
      expect(textOf(gone)).toMatch(/^SESSION_NOT_FOUND: .*\nhint: /);
    } finally {
      await b.close();
    }
  });

  it('run_code gives a figure as an MCP image', async () => {
    const c = await httpClient();
    const id = jsonOf(await call(c, 'session_create', { image: 'python-data' })).id as string;
    try {
      const code =
        'import matplotlib\nmatplotlib.use("Agg")\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.gcf()';
      const r = await call(c, 'run_code', { sessionId: id, code, timeoutMs: 120_000 });
      const image = r.content.find((x) => x.type === 'image') as
        | { data: string; mimeType: string }
        | undefined;
      expect(image?.mimeType).toBe('image/png');
      expect(
        Buffer.from(image?.data ?? '', 'base64')
          .subarray(1, 4)
          .toString(),
      ).toBe('PNG');
    } finally {
      await call(c, 'session_end', { sessionId: id });
      await c.close();
    }
  });

  it('snapshot tools: create, list, restore (files after it are gone), delete', async () => {
    const c = await httpClient();
    const id = jsonOf(await call(c, 'session_create', { language: 'python' })).id as string;
    try {
      await call(c, 'write_file', { sessionId: id, path: 'notes/a.txt', content: 'before' });
      const snap = jsonOf(await call(c, 'snapshot_create', { sessionId: id, name: 's1' }));
      await call(c, 'write_file', { sessionId: id, path: 'notes/c.txt', content: 'after' });
      await call(c, 'snapshot_restore', { sessionId: id, snapshotId: snap.id });
      const after = jsonOf(await call(c, 'list_files', { sessionId: id, path: 'notes' }));
      expect(after.entries.map((e: { name: string }) => e.name).sort()).toEqual(['a.txt']);
      expect(jsonOf(await call(c, 'snapshot_list', { sessionId: id })).snapshots).toHaveLength(1);
      await call(c, 'snapshot_delete', { snapshotId: snap.id });
      expect(jsonOf(await call(c, 'snapshot_list', { sessionId: id })).snapshots).toEqual([]);
    } finally {
      await call(c, 'session_end', { sessionId: id });
      await c.close();
    }
  });

  it('bad arguments are tool errors with VALIDATION_FAILED; a wrong token is refused with 401', async () => {
    const c = await httpClient();
    try {
      const r = await call(c, 'run_command', { sessionId: 'x', cmd: 'true', extra: 1 });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/^VALIDATION_FAILED/);
    } finally {
      await c.close();
    }
    await expect(httpClient('wrong')).rejects.toThrow(/401|UNAUTHORIZED/);
    const res = await fetch(mcpUrl, { headers: { authorization: `Bearer ${server.token}` } });
    expect(res.status).toBe(405);
  });

  it('a token-less server keeps web pages out of /mcp (Origin and Host checks), as every route', async () => {
    const open = Fastify();
    installErrorHandling(open);
    installBrowserGuard(open);
    await open.register(mcpRoutes, { api: server.client });
    try {
      const body = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} };
      const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
      const page = await open.inject({
        method: 'POST',
        url: '/mcp',
        headers: { ...headers, host: '127.0.0.1', origin: 'http://evil.example' },
        payload: body,
      });
      expect(page.statusCode).toBe(403);
      expect(page.json().error.code).toBe('FORBIDDEN_ORIGIN');
      const rebound = await open.inject({
        method: 'POST',
        url: '/mcp',
        headers: { ...headers, host: 'evil.example' },
        payload: body,
      });
      expect(rebound.json().error.code).toBe('FORBIDDEN_HOST');
      const local = await open.inject({
        method: 'POST',
        url: '/mcp',
        headers: { ...headers, host: '127.0.0.1' },
        payload: body,
      });
      expect(local.statusCode).toBe(200);
      expect(local.json().result.tools.length).toBe(13);
    } finally {
      await open.close();
    }
  });

  it('over stdio (`hearth mcp` against HEARTH_URL), with the SDK client', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [...CLI, 'mcp'],
      cwd: ROOT,
      env: { ...(process.env as Record<string, string>), HEARTH_URL: server.url, HEARTH_TOKEN: server.token },
      stderr: 'pipe',
    });
    const c = new Client({ name: 'hearth-test', version: '1' });
    await c.connect(transport);
    if (transport.pid) server.owners.push(transport.pid);
    try {
      const id = jsonOf(await call(c, 'session_create', { language: 'python' })).id;
      const r = jsonOf(await call(c, 'run_command', { sessionId: id, argv: ['echo', 'stdio'] }));
      expect(r.stdout).toBe('stdio\n');
      await call(c, 'session_end', { sessionId: id });
    } finally {
      await c.close();
    }
  });

  it('over stdio embedded (no HEARTH_URL): its sessions live in the process and end with it', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [...CLI, 'mcp'],
      cwd: ROOT,
      env: { ...(process.env as Record<string, string>), HEARTH_URL: '', HEARTH_BACKEND: 'bwrap' },
      stderr: 'pipe',
    });
    const c = new Client({ name: 'hearth-test', version: '1' });
    await c.connect(transport);
    const pid = transport.pid;
    if (pid) server.owners.push(pid);
    const exited = new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        try {
          if (pid) process.kill(pid, 0);
        } catch {
          clearInterval(poll);
          resolve();
        }
      }, 50);
    });
    try {
      const id = jsonOf(await call(c, 'session_create', { language: 'python' })).id;
      await call(c, 'run_code', { sessionId: id, code: 'n = 6' });
      expect(jsonOf(await call(c, 'run_code', { sessionId: id, code: 'n * 7' })).result.text).toBe('42');
      // Not on the server: this session is the MCP process's own.
      expect((await server.client.listSessions()).map((s) => s.id)).not.toContain(id);
    } finally {
      await c.close();
    }
    await exited;
  });

  it('the MCP Inspector CLI drives it over stdio and over HTTP', async () => {
    const stdioTarget = [process.execPath, ...CLI, 'mcp'];
    const env = { HEARTH_URL: server.url, HEARTH_TOKEN: server.token };
    const listed = (await inspector(
      [...stdioTarget, '--method', 'tools/list'],
      env,
      server.owners,
    )) as unknown as {
      tools: Array<{ name: string }>;
    };
    expect(listed.tools.map((t) => t.name)).toContain('run_code');

    const created = await inspector(
      [
        ...stdioTarget,
        '--method',
        'tools/call',
        '--tool-name',
        'session_create',
        '--tool-arg',
        'language=python',
      ],
      env,
      server.owners,
    );
    const id = jsonOf(created).id as string;

    const http = ['--transport', 'http', '--header', `Authorization: Bearer ${server.token}`];
    const ran = await inspector(
      [
        mcpUrl,
        ...http,
        '--method',
        'tools/call',
        '--tool-name',
        'run_code',
        '--tool-arg',
        `sessionId=${id}`,
        '--tool-arg',
        'code=6*7',
      ],
      {},
      server.owners,
    );
    expect(jsonOf(ran).result.text).toBe('42');

    const ended = await inspector(
      [
        mcpUrl,
        ...http,
        '--method',
        'tools/call',
        '--tool-name',
        'session_end',
        '--tool-arg',
        `sessionId=${id}`,
      ],
      {},
      server.owners,
    );
    expect(jsonOf(ended)).toEqual({ ended: id });
  });
});
